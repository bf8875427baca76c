"""``segattack universal``: one perturbation fitted on a set, reported on held-out images too."""

from __future__ import annotations

import json

import numpy as np
from PIL import Image

from segattack_gui.cli import main


def universal_inputs(tmp_path):
    """Four greyish images and a centred square target."""
    rng = np.random.default_rng(2)
    images = tmp_path / "images"
    images.mkdir()
    for index in range(4):
        Image.fromarray((rng.uniform(0.40, 0.48, (16, 16, 3)) * 255).round().astype(np.uint8)).save(
            images / f"img{index}.png")
    target = np.zeros((16, 16), np.uint8)
    target[4:12, 4:12] = 255
    Image.fromarray(target).save(tmp_path / "target.png")
    return ["--images", str(images), "--target", str(tmp_path / "target.png"), "--holdout", "1",
            "--epsilon", "0.1", "--alpha", "0.01", "--quiet"]


def test_universal_fits_and_reports_held_out(files, tmp_path, capsys):
    out = tmp_path / "universal"
    code = main(["universal", "--model", str(files["torchscript"]), *universal_inputs(tmp_path),
                 "--iterations", "20", "--out", str(out)])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["device"] == "cpu" and summary["precision"] == "fp32"
    assert len(summary["fitting"]["images"]) == 3 and len(summary["held_out"]["images"]) == 1
    assert summary["held_out"]["mean"]["iou"] > 0.9  # the threshold model: the perturbation transfers
    perturbation = np.load(out / "perturbation.npy")
    assert perturbation.shape == (16, 16, 3) and np.abs(perturbation).max() <= 0.1 + 1e-6
    assert "held_out" in capsys.readouterr().out


def test_universal_runs_at_the_precision_asked_for(files, tmp_path):
    out = tmp_path / "universal"
    assert main(["universal", "--model", str(files["torchscript"]), *universal_inputs(tmp_path),
                 "--iterations", "3", "--precision", "bf16", "--out", str(out)]) == 0
    assert json.loads((out / "summary.json").read_text())["precision"] == "bf16"


def test_universal_rejects_a_bad_epsilon(files, tmp_path, capsys):
    code = main(["universal", "--model", str(files["torchscript"]), "--images", str(tmp_path),
                 "--target", str(tmp_path / "t.png"), "--epsilon", "-1", "--out", str(tmp_path / "u")])
    assert code == 2
    assert capsys.readouterr().err.startswith("segattack: error: --epsilon: ")


def test_universal_reports_the_8bit_images_and_can_fit_on_them(files, tmp_path, capsys):
    out = tmp_path / "universal"
    assert main(["universal", "--model", str(files["torchscript"]), *universal_inputs(tmp_path),
                 "--iterations", "20", "--quantize", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert summary["config"]["quantize"] is True
    for part in ("fitting", "held_out"):
        assert len(summary[part]["per_image_quantized"]) == len(summary[part]["images"])
        assert summary[part]["mean_quantized"]["iou"] > 0.9  # the 8-bit images carry the attack
    assert "(8-bit: IoU " in capsys.readouterr().out


def test_a_nan_output_keeps_the_last_perturbation_the_model_scored(tmp_path):
    import torch

    from segattack_gui.core.attacks.universal import UniversalConfig, fit_universal
    from segattack_gui.core.models import ModelAdapter, ModelSpec

    class NaNOnceMoved(torch.nn.Module):
        """Threshold logits, NaN once the images' mean has moved past 0.47."""

        def forward(self, x):
            gap = 30 * (x.mean(1, keepdim=True) - 0.5)
            logits = torch.cat([-gap, gap], 1)
            return logits * torch.where(x.mean() > 0.47, float("nan"), 1.0)

    images = [np.full((8, 8, 3), 0.45, np.float32)] * 2
    target = np.ones((8, 8), np.int64)
    result = fit_universal(ModelAdapter(NaNOnceMoved(), ModelSpec()), images, target,
                           UniversalConfig(iterations=50, epsilon=0.1, alpha=0.01))
    assert result.stop_reason == "non-finite" and 0 < result.iterations_run < 50
    assert f"became NaN or infinite at iteration {result.iterations_run + 1}" in result.error
    assert np.isfinite(result.history["cross_entropy"]).all()
    assert 0.45 + result.perturbation.mean() <= 0.47 + 1e-6  # the kept xi still gives a finite output
