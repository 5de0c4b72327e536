"""PNG plots drawn with numpy + skimage.draw and written by SimpleITK (no matplotlib).

Text uses a built-in 5x7 bitmap font (upper case, digits and a few symbols).
"""

from __future__ import annotations

import math
from typing import Sequence

import numpy as np
import SimpleITK as sitk
from skimage import draw

_GLYPHS = {
    "A": ".###.#...##...#######...##...##...#", "B": "####.#...##...#####.#...##...#####.",
    "C": ".###.#...##....#....#....#...#.###.", "D": "####.#...##...##...##...##...#####.",
    "E": "######....#....####.#....#....#####", "F": "######....#....####.#....#....#....",
    "G": ".###.#...##....#.####...##...#.####", "H": "#...##...##...#######...##...##...#",
    "I": ".###...#....#....#....#....#...###.", "J": "..###...#....#....#....#.#..#..##..",
    "K": "#...##..#.#.#..##...#.#..#..#.#...#", "L": "#....#....#....#....#....#....#####",
    "M": "#...###.###.#.##...##...##...##...#", "N": "#...###..##.#.##..###...##...##...#",
    "O": ".###.#...##...##...##...##...#.###.", "P": "####.#...##...#####.#....#....#....",
    "Q": ".###.#...##...##...##.#.##..#..##.#", "R": "####.#...##...#####.#.#..#..#.#...#",
    "S": ".#####....#.....###.....#....#####.",
    "T": "#####..#....#....#....#....#....#..", "U": "#...##...##...##...##...##...#.###.",
    "V": "#...##...##...##...##...#.#.#...#..", "W": "#...##...##...##.#.##.#.##.#.#.#.#.",
    "X": "#...##...#.#.#...#...#.#.#...##...#", "Y": "#...##...#.#.#...#....#....#....#..",
    "Z": "#####....#...#...#...#...#....#####",
    "0": ".###.#...##..###.#.###..##...#.###.", "1": "..#...##....#....#....#....#...###.",
    "2": ".###.#...#....#...#...#...#...#####", "3": "#####...#...#.....#.....##...#.###.",
    "4": "...#...##..#.#.#..#.#####...#....#.", "5": "######....####.....#....##...#.###.",
    "6": "..##..#...#....####.#...##...#.###.", "7": "#####....#...#...#...#....#....#...",
    "8": ".###.#...##...#.###.#...##...#.###.", "9": ".###.#...##...#.####....#...#..##..",
    " ": "." * 35, ".": "." * 25 + "..##...##.", ",": "." * 20 + "..##...##....#.",
    "-": "." * 15 + "#####" + "." * 15, "+": ".......#....#..#####..#....#.......",
    "=": "." * 10 + "#####.....#####" + "." * 10, "_": "." * 30 + "#####",
    "(": "...#...#...#....#....#.....#.....#.", ")": ".#.....#.....#....#....#...#...#...",
    "[": ".###..#....#....#....#....#....###.", "]": ".###....#....#....#....#....#..###.",
    "%": "##...##..#...#...#...#...#..##...##", ":": "......##...##........##...##.......",
    "/": "....#....#...#...#...#...#....#....", ">": "#.....#.....#.....#...#...#...#....",
    "<": "....#...#...#...#.....#.....#.....#", "?": ".###.#...#....#...#...#.........#..",
    "'": "..#....#...........................",
}
_GLYPHS = {k: v[:35].ljust(35, ".") for k, v in _GLYPHS.items()}

BLACK = (0, 0, 0)
GREY = (150, 150, 150)
LIGHT = (225, 225, 225)
BLUE = (31, 96, 180)
RED = (200, 40, 40)
ORANGE = (230, 130, 20)


def _glyph(char: str) -> np.ndarray:
    pattern = _GLYPHS.get(char.upper(), _GLYPHS["?"])
    return np.array([c == "#" for c in pattern], dtype=bool).reshape(7, 5)


def text_mask(text: str, scale: int = 1) -> np.ndarray:
    """Boolean raster of `text` (6 px per character at scale 1, 7 px high)."""
    if not text:
        return np.zeros((7 * scale, 1), dtype=bool)
    mask = np.zeros((7, 6 * len(text)), dtype=bool)
    for i, char in enumerate(text):
        mask[:, 6 * i: 6 * i + 5] = _glyph(char)
    return np.kron(mask, np.ones((scale, scale), dtype=bool))


class Canvas:
    def __init__(self, width: int, height: int):
        self.width, self.height = width, height
        self.pixels = np.full((height, width, 3), 255, dtype=np.uint8)

    def line(self, x0, y0, x1, y1, color=BLACK, width: int = 1):
        for offset in range(width):
            d = offset - width // 2
            if abs(x1 - x0) >= abs(y1 - y0):
                rr, cc = draw.line(int(round(y0)) + d, int(round(x0)), int(round(y1)) + d, int(round(x1)))
            else:
                rr, cc = draw.line(int(round(y0)), int(round(x0)) + d, int(round(y1)), int(round(x1)) + d)
            self._set(rr, cc, color)

    def dashed(self, x0, y0, x1, y1, color=GREY, dash: int = 6):
        length = math.hypot(x1 - x0, y1 - y0)
        pieces = max(1, int(length // dash))
        for i in range(0, pieces, 2):
            a, b = i / pieces, min(1.0, (i + 1) / pieces)
            self.line(x0 + a * (x1 - x0), y0 + a * (y1 - y0), x0 + b * (x1 - x0), y0 + b * (y1 - y0), color)

    def rectangle(self, x0, y0, x1, y1, color=BLACK, fill=None):
        if fill is not None:
            start = (int(min(y0, y1)), int(min(x0, x1)))
            rr, cc = draw.rectangle(start, (int(max(y0, y1)), int(max(x0, x1))))
            self._set(rr, cc, fill)
        for a, b, c, d in ((x0, y0, x1, y0), (x1, y0, x1, y1), (x1, y1, x0, y1), (x0, y1, x0, y0)):
            self.line(a, b, c, d, color)

    def dot(self, x, y, radius: float = 3, color=BLUE):
        rr, cc = draw.disk((y, x), radius, shape=self.pixels.shape[:2])
        self._set(rr, cc, color)

    def text(self, x, y, text: str, color=BLACK, scale: int = 1, anchor: str = "left", vertical=False):
        """Draw text; (x, y) is the left/centre/right end (anchor) of its vertical middle."""
        mask = text_mask(text, scale)
        if vertical:
            mask = np.rot90(mask)
            h, w = mask.shape
            top, left = int(y - h / 2), int(x - w / 2)
        else:
            h, w = mask.shape
            left = {"left": x, "center": x - w / 2, "right": x - w}[anchor]
            top, left = int(y - h / 2), int(left)
        rr, cc = np.nonzero(mask)
        self._set(rr + top, cc + left, color)

    def _set(self, rr, cc, color):
        rr = np.asarray(rr)
        cc = np.asarray(cc)
        keep = (rr >= 0) & (rr < self.height) & (cc >= 0) & (cc < self.width)
        self.pixels[rr[keep], cc[keep]] = color

    def save(self, path: str):
        sitk.WriteImage(sitk.GetImageFromArray(self.pixels, isVector=True), str(path))


def nice_ticks(low: float, high: float, count: int = 5) -> np.ndarray:
    """About `count` round tick values (1, 2, 5 x 10^k steps) covering [low, high]."""
    if not np.isfinite(low) or not np.isfinite(high):
        return np.array([0.0])
    if high <= low:
        high = low + (abs(low) if low else 1.0)
    raw = (high - low) / max(count - 1, 1)
    power = 10 ** math.floor(math.log10(raw))
    step = next(m * power for m in (1, 2, 2.5, 5, 10) if m * power >= raw)
    start = math.floor(low / step) * step
    stop = math.ceil(high / step) * step
    return np.round(np.arange(start, stop + step / 2, step), 12)


def _fit_text(text: str, width_px: int, scale: int = 1) -> str:
    limit = max(4, width_px // (6 * scale))
    return text if len(text) <= limit else text[: limit - 2] + ".."


def _format_tick(value: float) -> str:
    return f"{value:.4g}"


class _Axes:
    """Plot area with data-to-pixel mapping."""

    def __init__(self, canvas: Canvas, left: int, top: int, right: int, bottom: int,
                 xlim, ylim):
        self.canvas = canvas
        self.left, self.top, self.right, self.bottom = left, top, right, bottom
        self.xlim, self.ylim = xlim, ylim

    def px(self, x):
        x0, x1 = self.xlim
        return self.left + (np.asarray(x, dtype=float) - x0) / (x1 - x0) * (self.right - self.left)

    def py(self, y):
        y0, y1 = self.ylim
        return self.bottom - (np.asarray(y, dtype=float) - y0) / (y1 - y0) * (self.bottom - self.top)

    def frame(self, xticks=None, yticks=None, grid=True):
        c = self.canvas
        for value in yticks if yticks is not None else []:
            y = float(self.py(value))
            if grid:
                c.line(self.left + 1, y, self.right - 1, y, LIGHT)
            c.line(self.left - 4, y, self.left, y)
            c.text(self.left - 7, y, _format_tick(value), anchor="right")
        for value in xticks if xticks is not None else []:
            x = float(self.px(value))
            if grid:
                c.line(x, self.top + 1, x, self.bottom - 1, LIGHT)
            c.line(x, self.bottom, x, self.bottom + 4)
            c.text(x, self.bottom + 12, _format_tick(value), anchor="center")
        c.rectangle(self.left, self.top, self.right, self.bottom)


def roc_plot(path: str, fpr: Sequence[float], tpr: Sequence[float], title: str, auc_text: str,
             point: tuple | None = None, point_label: str = "", size: int = 480):
    """ROC curve (1 - specificity vs sensitivity) with the chance diagonal and an optional cut-off point."""
    canvas = Canvas(size, size)
    axes = _Axes(canvas, 62, 44, size - 20, size - 52, (0.0, 1.0), (0.0, 1.0))
    ticks = np.linspace(0, 1, 5)
    axes.frame(ticks, ticks)
    canvas.dashed(axes.px(0), axes.py(0), axes.px(1), axes.py(1))
    xs, ys = axes.px(fpr), axes.py(tpr)
    for i in range(len(xs) - 1):
        canvas.line(xs[i], ys[i], xs[i + 1], ys[i + 1], BLUE, width=2)
    if point is not None:
        canvas.dot(float(axes.px(point[0])), float(axes.py(point[1])), 5, RED)
        if point_label:
            canvas.text(axes.px(0.5), axes.py(0.06), _fit_text(point_label, axes.right - axes.left - 80), RED)
    canvas.text(axes.px(0.5), axes.py(0.14), auc_text, BLUE)
    canvas.text(size / 2, 16, _fit_text(title, size - 20), scale=1, anchor="center")
    canvas.text(size / 2, size - 18, "1 - SPECIFICITY", anchor="center")
    canvas.text(14, (axes.top + axes.bottom) / 2, "SENSITIVITY", vertical=True)
    canvas.save(path)


def _jitter(n: int, width: float, seed: int = 0) -> np.ndarray:
    return (np.random.default_rng(seed).random(n) - 0.5) * width


def distribution_plot(path: str, groups: Sequence[np.ndarray], labels: Sequence[str], title: str,
                      y_label: str = "", width: int = 480, height: int = 420):
    """Box plot (median, quartiles, whiskers to the most extreme value within 1.5 IQR) plus every case."""
    canvas = Canvas(width, height)
    values = np.concatenate([np.asarray(g, dtype=float) for g in groups if len(g)] or [np.zeros(1)])
    yticks = nice_ticks(float(values.min()), float(values.max()))
    ylim = (float(yticks[0]), float(yticks[-1]))
    if ylim[1] == ylim[0]:
        ylim = (ylim[0] - 1, ylim[1] + 1)
    axes = _Axes(canvas, 84, 40, width - 20, height - 50, (0.0, float(len(groups))), ylim)
    axes.frame(None, yticks)
    colours = (BLUE, ORANGE, RED, GREY)
    for i, (group, label) in enumerate(zip(groups, labels)):
        group = np.asarray(group, dtype=float)
        centre = float(axes.px(i + 0.5))
        half = (axes.right - axes.left) / len(groups) * 0.22
        canvas.text(centre, axes.bottom + 14, _fit_text(label, int(4 * half)), anchor="center")
        if group.size == 0:
            continue
        q1, median, q3 = np.percentile(group, [25, 50, 75])
        iqr = q3 - q1
        low = group[group >= q1 - 1.5 * iqr].min()
        high = group[group <= q3 + 1.5 * iqr].max()
        colour = colours[i % len(colours)]
        canvas.rectangle(centre - half, axes.py(q3), centre + half, axes.py(q1), colour)
        canvas.line(centre - half, axes.py(median), centre + half, axes.py(median), colour, width=3)
        canvas.line(centre, axes.py(q3), centre, axes.py(high), colour)
        canvas.line(centre, axes.py(q1), centre, axes.py(low), colour)
        canvas.line(centre - half / 2, axes.py(high), centre + half / 2, axes.py(high), colour)
        canvas.line(centre - half / 2, axes.py(low), centre + half / 2, axes.py(low), colour)
        xs = centre + _jitter(group.size, 1.6 * half, seed=i)
        for x, y in zip(xs, axes.py(group)):
            canvas.dot(float(x), float(y), 2.5, colour)
    canvas.text(width / 2, 16, _fit_text(title, width - 20), anchor="center")
    if y_label:
        label = _fit_text(y_label, axes.bottom - axes.top)
        canvas.text(14, (axes.top + axes.bottom) / 2, label, vertical=True)
    canvas.save(path)


def scatter_plot(path: str, x, y, title: str, x_label: str, y_label: str, width: int = 480,
                 height: int = 420):
    """Scatter plot of a predictor (x) against a continuous outcome (y) with the least-squares line."""
    x = np.asarray(x, dtype=float)
    y = np.asarray(y, dtype=float)
    canvas = Canvas(width, height)
    xticks = nice_ticks(float(x.min()), float(x.max()))
    yticks = nice_ticks(float(y.min()), float(y.max()))
    axes = _Axes(canvas, 84, 40, width - 20, height - 56, (xticks[0], xticks[-1]), (yticks[0], yticks[-1]))
    axes.frame(xticks, yticks)
    for px, py in zip(axes.px(x), axes.py(y)):
        canvas.dot(float(px), float(py), 2.5, BLUE)
    if x.size > 1 and np.ptp(x) > 0:
        slope, intercept = np.polyfit(x, y, 1)
        ends = np.array(axes.xlim)
        canvas.line(*axes.px(ends[:1]), *axes.py(intercept + slope * ends[:1]),
                    *axes.px(ends[1:]), *axes.py(intercept + slope * ends[1:]), RED)
    canvas.text(width / 2, 16, _fit_text(title, width - 20), anchor="center")
    canvas.text((axes.left + axes.right) / 2, height - 16, _fit_text(x_label, width - 40), anchor="center")
    canvas.text(14, (axes.top + axes.bottom) / 2, _fit_text(y_label, axes.bottom - axes.top), vertical=True)
    canvas.save(path)
