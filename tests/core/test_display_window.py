"""Window/level for display: presets, percentile default, MONOCHROME1 inverted, drag directions."""

from __future__ import annotations

import dataclasses

import numpy as np
import pydicom
from pydicom.data import get_testdata_file

from segattack_gui.io.images import read_image
from segattack_gui.workspace.display_window import (
    DisplayWindow,
    default_window,
    display_pixels,
    dragged,
    has_window,
    windowed_adversarial,
)


def test_ct_defaults_to_soft_tissue_and_shows_hu_through_it():
    image = read_image(get_testdata_file("CT_small.dcm"))
    assert has_window(image) and default_window(image) == DisplayWindow(40.0, 400.0)
    hu = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array - 1024.0
    shown = display_pixels(image, DisplayWindow(40.0, 400.0))[..., 0]
    np.testing.assert_allclose(shown, np.clip((hu + 160.0) / 400.0, 0, 1), atol=1e-6)


def test_an_attacked_frame_shows_through_the_window_with_its_perturbation():
    image = read_image(get_testdata_file("CT_small.dcm"))
    hu = pydicom.dcmread(get_testdata_file("CT_small.dcm")).pixel_array - 1024.0
    change = np.zeros_like(hu)
    change[10:20, 10:20] = 6.0  # HU: well under one 8-bit step of this image's [0, 1] range
    perturbation = (change / image.value_scale.span).astype(np.float32)[..., None]
    shown = windowed_adversarial(image.pixels, perturbation, image, DisplayWindow(40.0, 80.0))[..., 0]
    np.testing.assert_allclose(shown, np.clip(hu + change, 0, 80) / 80.0, atol=1e-4)  # float32 [0, 1] of 16 bits


def test_mr_defaults_to_its_percentiles_and_monochrome1_is_inverted():
    image = read_image(get_testdata_file("MR_small.dcm"))
    values = pydicom.dcmread(get_testdata_file("MR_small.dcm")).pixel_array.astype(float)
    low, high = np.percentile(values, (1, 99))
    window = default_window(image)
    np.testing.assert_allclose((window.low, window.high), (low, high), rtol=1e-12)
    inverted = dataclasses.replace(image, conversion=image.conversion + "; MONOCHROME1: shown inverted")
    np.testing.assert_allclose(display_pixels(inverted, window), 1 - display_pixels(image, window), atol=1e-6)


def test_drag_right_widens_and_up_raises_the_level():
    start = DisplayWindow(40.0, 400.0)
    assert dragged(start, 10, 0).width > 400 and dragged(start, -10, 0).width < 400
    assert dragged(start, 0, -10).level > 40 and dragged(start, 0, 10).level < 40
    assert dragged(start, -10**6, 0).width > 0
    assert not has_window(read_image(get_testdata_file("SC_rgb_rle_2frame.dcm")))  # colour: no window
