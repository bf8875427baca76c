"""The paper's setting on real fundus images: a valid-convolution U-Net, 572 input, 388 output.

Uses the two RIM-ONE samples the ASMA authors published (``../shared/data``); skipped
where that folder is absent. The weights are random (no pretrained medical model can
be shipped), so this checks geometry and plumbing, not attack success.
"""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from PIL import Image

from segattack_gui.cli import main
from segattack_gui.core.architectures import ValidUNet

from .conftest import SHARED_DATA

pytestmark = pytest.mark.skipif(not SHARED_DATA.is_dir(), reason="../shared/data/rimone_samples is absent")


def test_attack_g5_towards_g14_with_the_paper_unet(tmp_path):
    torch.manual_seed(0)
    widths = [4, 8, 16, 32, 64]  # the paper's structure at a CPU-test width
    model_path = tmp_path / "valid_unet.pt"
    torch.save(ValidUNet(widths=tuple(widths)).state_dict(), model_path)
    model_path.with_suffix(".json").write_text(json.dumps({
        "classes": ["background", "optic disc"], "architecture": "unet",
        "architecture_args": {"widths": widths}, "input_size": [572, 572], "input_policy": "pad",
    }))
    out = tmp_path / "run"
    code = main(["attack", "--model", str(model_path),
                 "--image", str(SHARED_DATA / "images" / "G_5_R_1.png"),
                 "--target", str(SHARED_DATA / "masks" / "G_14_R_1.png"),
                 "--iterations", "2", "--out", str(out), "--quiet"])
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    # 569 x 428 padded to 572 x 572 (1 row, 72 columns before); the 388 output starts 92 in.
    assert summary["output_grid"] == {"top": 91, "left": 20, "height": 388, "width": 388}
    assert "threshold" in summary["target_rule"] or "> 20" in summary["target_rule"]
    target = np.asarray(Image.open(out / "target.png"))
    truth = np.asarray(Image.open(SHARED_DATA / "masks" / "G_14_R_1.png")) > 20
    np.testing.assert_array_equal(target, truth.astype(np.uint8))
    prediction = np.asarray(Image.open(out / "prediction_adversarial.png"))
    assert prediction.shape == (569, 428)
    assert (prediction[:91] == 255).all() and (prediction[91:479, 20:408] != 255).all()
    assert np.load(out / "adversarial.npy").shape == (569, 428, 3)


def test_the_papers_pair_with_the_shipped_disc_and_cup_model(tmp_path, capsys):
    """A RIM-ONE disc mask (anti-aliased, one structure) for a three-class model: the user names the class."""
    from segattack_gui.assets import resource_root

    model = resource_root() / "models" / "fundus_unet.pt"
    arguments = ["attack", "--model", str(model), "--image", str(SHARED_DATA / "images" / "G_5_R_1.png"),
                 "--target", str(SHARED_DATA / "masks" / "G_14_R_1.png"), "--iterations", "2", "--quiet"]
    assert main([*arguments, "--out", str(tmp_path / "refused")]) == 2
    assert "--mask-class" in capsys.readouterr().err  # says how to go on
    out = tmp_path / "run"
    assert main([*arguments, "--mask-class", "1", "--out", str(out)]) == 0
    summary = json.loads((out / "summary.json").read_text())
    assert "class 1 where value > 20" in summary["target_rule"]
    truth = np.asarray(Image.open(SHARED_DATA / "masks" / "G_14_R_1.png")) > 20
    np.testing.assert_array_equal(np.asarray(Image.open(out / "target.png")), truth.astype(np.uint8))
    assert main([*arguments, "--mask-class", "3", "--out", str(tmp_path / "bad")]) == 2
    assert "cannot mark class 3" in capsys.readouterr().err
