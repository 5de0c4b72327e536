"""A single fat-bright image's fat fraction (segmentation.tissue): share of signal from fat, as Dixon reads it."""

import numpy as np

from spinequant.phantoms.axial import make_axial_phantom
from spinequant.segmentation import body as body_module
from spinequant.segmentation.tissue import dixon_maps, signal_fat_fraction, tissue_maps


def test_a_quarter_fat_tissue_gives_half_the_signal_when_fat_is_three_times_brighter():
    shares = np.array([0.0, 0.25, 0.5, 1.0])
    fraction = signal_fat_fraction(shares, np.full(4, 3.0))
    assert np.allclose(fraction, [0.0, 0.5, 0.75, 1.0], atol=1e-4)
    # fat no brighter than muscle: the share of signal is the share of tissue
    assert np.allclose(signal_fat_fraction(shares, np.ones(4)), shares, atol=1e-4)


def test_single_image_fraction_tracks_the_dixon_fraction_better_than_the_plane_map():
    phantom = make_axial_phantom(seed=1, n_slices=6)
    image = phantom.image.array
    body = body_module.body_mask(image)
    single = tissue_maps(image, phantom.image.spacing, body)
    dixon = dixon_maps(phantom.water.array, phantom.fat.array).fat_fraction
    back = (phantom.labels.array >= 1) & (phantom.labels.array <= 4)
    # the back muscles with their fat planes and borders: where the graded values matter
    near = back | np.roll(back, 2, axis=2) | np.roll(back, -2, axis=2)
    error = np.abs(single.fat_fraction - dixon)[near & body].mean()
    plane_error = np.abs(single.plane_fat_fraction - dixon)[near & body].mean()
    assert error < plane_error, (error, plane_error)
    assert single.saturated_fat_fraction is single.plane_fat_fraction
    with_dixon = tissue_maps(image, phantom.image.spacing, body, phantom.water.array, phantom.fat.array)
    assert with_dixon.saturated_fat_fraction is with_dixon.fat_fraction  # one measured map for everything
