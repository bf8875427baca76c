"""Exported pictures show what the window shows: a readable heatmap with its scale, the prediction
against the target in the GIF, and a colour bar in the paper figure."""

from __future__ import annotations

import numpy as np
import pytest

from segattack_gui.io.figures import (
    AGREE,
    AGREEMENT_COLORS,
    EXTRA,
    MISSING,
    VOID_CLASS,
    GifFrame,
    agreement_map,
    iteration_frame,
)
from segattack_gui.io.heatmaps import HeatmapStyle, heatmap_figure, heatmap_values, nice_ceiling


def sparse_perturbation(seed: int = 0) -> np.ndarray:
    """Small changes almost everywhere and a few strong pixels: what attacks leave."""
    rng = np.random.default_rng(seed)
    perturbation = rng.normal(0, 0.004, (64, 64, 3)).astype(np.float32)
    perturbation[5, 5] = 0.5  # one outlier that used to take the whole scale
    return perturbation


def test_the_default_heatmap_is_scaled_to_the_bulk_not_the_outlier():
    perturbation = sparse_perturbation()
    by_peak, _ = heatmap_values(perturbation, HeatmapStyle(amplification=1.0))
    auto, top = heatmap_values(perturbation, HeatmapStyle())
    magnitude = np.sqrt((perturbation**2).sum(-1))
    assert top == nice_ceiling(float(np.percentile(magnitude[magnitude > 0], 99)))
    assert by_peak.mean() < 25 < auto.mean()  # the peak-scaled picture is nearly black, the default is not


def test_signed_mode_is_diverging_and_amplification_saturates():
    perturbation = np.zeros((4, 4, 3), np.float32)
    perturbation[0, 0, 0], perturbation[3, 3, 0] = 0.1, -0.1
    picture, top = heatmap_values(perturbation, HeatmapStyle(channel=0, amplification=1.0))
    assert top == pytest.approx(0.1)
    assert picture[0, 0, 0] > picture[0, 0, 2] and picture[3, 3, 2] > picture[3, 3, 0]  # red up, blue down
    assert np.all(picture[1, 1] > 230)  # zero is white
    _, amplified_top = heatmap_values(perturbation, HeatmapStyle(channel=0, amplification=10.0))
    assert amplified_top == pytest.approx(0.01)
    record = HeatmapStyle(channel=0, amplification=10.0).record(perturbation)
    assert record["mode"] == "signed" and record["label"] == "δ red" and record["scale_top"] == pytest.approx(0.01)


def test_the_heatmap_figure_carries_a_colour_bar():
    perturbation = sparse_perturbation()
    figure = heatmap_figure(perturbation)
    assert figure.shape[0] == 64 and figure.shape[1] > 64 + 14
    bar = figure[:, 64 + 6 + 4 : 64 + 6 + 4 + 14]
    assert bar[0].mean() > bar[-1].mean()  # bright (high values) at the top, dark at the bottom


def test_agreement_map_codes_against_a_hand_made_case():
    target = np.array([[0, 1, 1], [0, 2, 0]], np.uint8)
    prediction = np.array([[0, 1, 0], [1, 2, VOID_CLASS]], np.uint8)
    assert agreement_map(prediction, target).tolist() == [[0, AGREE, MISSING], [EXTRA, AGREE, 4]]


def test_a_gif_frame_shows_the_iterate_beside_its_prediction_against_the_target():
    target = np.zeros((40, 40), np.uint8)
    target[10:30, 10:30] = 1
    prediction = np.zeros((40, 40), np.uint8)
    prediction[10:30, 10:20] = 1  # half the target reached
    image = np.full((40, 40, 3), 0.5, np.float32)
    frame = iteration_frame(GifFrame(7, image, prediction, 0.5), target)
    assert frame.shape[1] > 80  # two panels
    right = frame[28:, frame.shape[1] - 40 :]
    colours = {tuple(int(c) for c in pixel) for pixel in right.reshape(-1, 3)}
    assert AGREEMENT_COLORS[AGREE][0] in colours and AGREEMENT_COLORS[MISSING][0] in colours


def test_a_large_frame_is_reduced_for_the_gif():
    frame = iteration_frame(GifFrame(0, np.zeros((1000, 2000, 3), np.float32), None), np.zeros((1000, 2000), np.uint8))
    assert frame.shape[1] <= 2 * 320 + 6 and frame.shape[0] <= 160 + 28
