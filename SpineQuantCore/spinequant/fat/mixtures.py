"""One-dimensional Gaussian mixtures and k-means for intensity classes inside a muscle."""

from __future__ import annotations

import numpy as np
from scipy.cluster.vq import kmeans2

HISTOGRAM_BINS = 512  # EM on a fine histogram: same fit as on the voxels, far faster


def gaussian_mixture_1d(values: np.ndarray, components: int, iterations: int = 300,
                        tolerance: float = 1e-8) -> tuple:
    """EM fit of a 1D Gaussian mixture on the binned values; returns (weights, means, sds) by mean."""
    raw = values.astype(np.float64).ravel()
    counts, edges = np.histogram(raw, bins=HISTOGRAM_BINS)
    keep = counts > 0
    x = (0.5 * (edges[:-1] + edges[1:]))[keep]
    w = counts[keep].astype(np.float64)
    bin_width = edges[1] - edges[0]
    means = np.quantile(raw, np.linspace(0.15, 0.85, components))
    sds = np.full(components, max(raw.std() / components, bin_width))
    weights = np.full(components, 1.0 / components)
    previous = -np.inf
    for _ in range(iterations):
        log_density = -0.5 * ((x[:, None] - means) / sds) ** 2 - np.log(sds) + np.log(weights)
        log_total = np.logaddexp.reduce(log_density, axis=1)
        responsibility = np.exp(log_density - log_total[:, None]) * w[:, None]
        totals = responsibility.sum(axis=0) + 1e-12
        weights = totals / w.sum()
        means = (responsibility * x[:, None]).sum(axis=0) / totals
        variance = (responsibility * (x[:, None] - means) ** 2).sum(axis=0) / totals
        sds = np.sqrt(variance + bin_width**2 / 12.0)  # Sheppard's correction floor for binning
        likelihood = float((log_total * w).sum() / w.sum())
        if abs(likelihood - previous) < tolerance:
            break
        previous = likelihood
    order = np.argsort(means)
    return weights[order], means[order], sds[order]


def highest_component_members(values: np.ndarray, components: int) -> np.ndarray:
    """True where a voxel is most likely in the brightest mixture component."""
    weights, means, sds = gaussian_mixture_1d(values, components)
    x = values.astype(np.float64)[:, None]
    log_density = -0.5 * ((x - means) / sds) ** 2 - np.log(sds) + np.log(weights)
    return np.argmax(log_density, axis=1) == components - 1


def upper_kmeans_cluster(values: np.ndarray) -> np.ndarray:
    """True for voxels in the brighter of two k-means clusters (deterministic start)."""
    x = values.astype(np.float64).reshape(-1, 1)
    start = np.percentile(x, [10, 90]).reshape(-1, 1)
    centres, assignment = kmeans2(x, start, minit="matrix", iter=50)
    return assignment == int(np.argmax(centres.ravel()))
