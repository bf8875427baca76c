"""The command line on models as libraries save them, and the warnings that stop a misfeed going unnoticed."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from segattack_gui.cli import main
from segattack_gui.core.misfeed import one_class_warning


class NeedsImageNetNormalisation(torch.nn.Module):
    """Class 1 where the ImageNet-normalised red channel is positive: fed raw [0, 1] values without the
    sidecar's mean/std, it still predicts, but background almost everywhere."""

    def forward(self, x):
        gap = 10 * (x[:, :1] - 0.6)
        return torch.cat([-gap, gap], 1)


class FixedSize(torch.nn.Module):
    """Works only on 32 x 32 inputs (a linear head over the whole map), as many exported models do."""

    def __init__(self):
        super().__init__()
        self.head = torch.nn.Linear(32 * 32, 2 * 32 * 32)

    def forward(self, x):
        return self.head(x[:, :1].flatten(1)).view(-1, 2, 32, 32)


def _write(folder, image: np.ndarray, target: np.ndarray):
    Image.fromarray(image).save(folder / "image.png")
    Image.fromarray(target).save(folder / "target.png")
    return folder / "image.png", folder / "target.png"


def _attack(model, image, target, out, *extra):
    return main(["attack", "--model", str(model), "--image", str(image), "--target", str(target), "--out", str(out),
                 "--quiet", "--iterations", "5", *extra])


def test_a_model_fed_without_its_normalisation_is_warned_about(tmp_path, capsys):
    rng = np.random.default_rng(0)
    image = (rng.uniform(0.2, 0.5, (24, 28, 3)) * 255).astype(np.uint8)
    target = np.zeros((24, 28), np.uint8)
    target[6:18, 8:20] = 255
    image_path, target_path = _write(tmp_path, image, target)
    torch.jit.script(NeedsImageNetNormalisation()).save(str(tmp_path / "model.ts"))
    assert _attack(tmp_path / "model.ts", image_path, target_path, tmp_path / "run") == 0
    stderr = capsys.readouterr().err
    assert "segattack: warning: the clean prediction is 'background' on 100.0% of the output grid" in stderr
    assert '"mean"/"std"' in stderr
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert len(summary["warnings"]) == 1 and "mean" in summary["warnings"][0]
    assert summary["model_kind"] == "torchscript" and summary["output_rule"] == "input as given; output same size"


def test_a_greyscale_image_fed_to_an_rgb_model_is_warned_about(tmp_path, capsys):
    image = np.full((24, 28), 200, np.uint8)
    target = np.zeros((24, 28), np.uint8)
    target[:12] = 255
    image_path, target_path = _write(tmp_path, image, target)
    torch.jit.script(NeedsImageNetNormalisation()).save(str(tmp_path / "model.ts"))
    (tmp_path / "model.json").write_text(json.dumps({"classes": ["background", "lesion"], "in_channels": 3}))
    assert _attack(tmp_path / "model.ts", image_path, target_path, tmp_path / "run") == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert any("greyscale image feeds a model that takes 3 channels" in w for w in summary["warnings"])
    assert "greyscale" in capsys.readouterr().err


def test_no_warning_for_a_model_that_sees_the_target_classes(tmp_path, capsys):
    prediction = np.zeros((10, 10), np.int64)
    prediction[:3] = 1
    assert one_class_warning(prediction, np.ones((10, 10)), ("background", "lesion")) is None
    prediction[:] = 0
    assert one_class_warning(prediction, np.zeros((10, 10)), ("background", "lesion")) is None  # target agrees
    prediction[0, 0] = 1  # 99 % background: still suspect
    assert one_class_warning(prediction, np.ones((10, 10)), ("background", "lesion")) is not None


def test_a_fixed_size_model_failing_on_the_image_names_input_size_and_input_policy(tmp_path, capsys):
    image_path, target_path = _write(tmp_path, np.zeros((40, 40, 3), np.uint8), np.zeros((40, 40), np.uint8))
    torch.jit.script(FixedSize()).save(str(tmp_path / "fixed.ts"))
    assert _attack(tmp_path / "fixed.ts", image_path, target_path, tmp_path / "run") == 2
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and '"input_size"' in error and '"input_policy"' in error
    assert not (tmp_path / "run").exists()


def test_an_nnunet_folder_through_the_command_line(nnunet_folder, tmp_path, capsys):
    from tests.core.nnunet_fixture import disc_image

    pixels, labels = disc_image(901, 40, 48)
    target = np.zeros_like(labels, dtype=np.uint8)  # the disc moved to the upper right
    target[4:14, 30:42] = 1
    image_path, target_path = _write(tmp_path, (pixels * 255).round().astype(np.uint8), target)
    assert _attack(nnunet_folder, image_path, target_path, tmp_path / "run", "--fold", "0") == 0
    summary = json.loads((tmp_path / "run" / "summary.json").read_text())
    assert summary["model_kind"] == "nnunet" and summary["model_fold"] == 0
    assert summary["classes"] == ["background", "disc", "core"]
    assert summary["iterations_run"] == 5
    capsys.readouterr()
    assert main(["rerun", str(tmp_path / "run"), "--quiet"]) == 0  # the folder and its fold, as recorded
    assert "model" in capsys.readouterr().out
    with pytest.raises(SystemExit):
        main(["attack", "--fold", "x"])
