"""Small model files of every accepted kind, and images and targets to attack with them."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from segattack_gui.core.architectures import PaddedUNet
from tests.core.tiny_models import ThresholdModel

SHARED_DATA = Path(__file__).resolve().parents[2].parent / "shared" / "data" / "rimone_samples"


class RGBThreshold(torch.nn.Module):
    """Class 1 where the channel mean exceeds 0.5 (steep logits), for fast, predictable attacks."""

    def forward(self, x):
        gap = 30 * (x.mean(1, keepdim=True) - 0.5)
        return torch.cat([-gap, gap], 1)


@pytest.fixture
def files(tmp_path: Path) -> dict[str, Path]:
    rng = np.random.default_rng(0)
    folder = tmp_path / "inputs"
    folder.mkdir()
    image = (rng.uniform(0.35, 0.48, (32, 40, 3)) * 255).round().astype(np.uint8)
    Image.fromarray(image).save(folder / "image.png")
    target = np.zeros((32, 40), np.uint8)
    target[8:24, 10:30] = 1
    Image.fromarray(target * 255).save(folder / "target.png")
    scripted = torch.jit.script(RGBThreshold())
    scripted.save(str(folder / "threshold.ts"))
    (folder / "threshold.json").write_text(json.dumps({"classes": ["background", "lesion"]}))
    torch.manual_seed(0)
    network = PaddedUNet(in_channels=3, num_classes=2, widths=(4, 8))
    torch.save(network.state_dict(), folder / "unet_state.pt")
    (folder / "unet_state.json").write_text(json.dumps({
        "classes": ["background", "lesion"], "architecture": "padded_unet",
        "architecture_args": {"in_channels": 3, "widths": [4, 8]}, "mean": [0.5, 0.5, 0.5], "std": [0.25, 0.25, 0.25],
    }))
    torch.save(ThresholdModel(), folder / "pickled.pt")
    (folder / "pickled.json").write_text(json.dumps({"classes": ["background", "lesion"]}))
    return {
        "image": folder / "image.png",
        "target": folder / "target.png",
        "torchscript": folder / "threshold.ts",
        "state_dict": folder / "unet_state.pt",
        "pickle": folder / "pickled.pt",
        "folder": folder,
    }


def write_case_dataset(folder: Path, count: int, size: int, seed: int, row_step: int, row_height: int,
                       columns: tuple[int, int]) -> tuple[Path, Path]:
    """``images/caseN.png`` (near the threshold model's boundary) and 0/255 ``masks/caseN.png``."""
    rng = np.random.default_rng(seed)
    images, masks = folder / "images", folder / "masks"
    images.mkdir()
    masks.mkdir()
    for index in range(count):
        pixels = (rng.uniform(0.35, 0.48, (size, size, 3)) * 255).round().astype(np.uint8)
        Image.fromarray(pixels).save(images / f"case{index}.png")
        mask = np.zeros((size, size), np.uint8)
        top = 2 + row_step * index
        mask[top : top + row_height, columns[0] : columns[1]] = 255
        Image.fromarray(mask).save(masks / f"case{index}.png")
    return images, masks
