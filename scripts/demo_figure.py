"""The README's demo figure from an exported run folder, at 100 % zoom (one image pixel per pixel):

    original | adversarial (the exported 8-bit PNG) | perturbation x gain | prediction vs target

    python scripts/demo_figure.py RUN_FOLDER docs/fundus_demo_attack.png [--gain 10]

The perturbation panel is 0.5 + gain * (adversarial - original): grey where nothing changed.
The last panel is the model's prediction on the adversarial PNG, the target's outlines in white.
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np
from PIL import Image

from segattack_gui.io.figures import amplified_perturbation, prediction_against_target, titled_row, write_figure_png


def _rgb(path: Path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("RGB"), np.float32) / 255.0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("run", type=Path, help="a run folder written by segattack attack")
    parser.add_argument("out", type=Path, help="the PNG to write")
    parser.add_argument("--gain", type=float, default=10.0, help="perturbation amplification (default 10)")
    arguments = parser.parse_args()
    run = arguments.run
    summary = json.loads((run / "summary.json").read_text())
    original, adversarial = _rgb(run / "original.png"), _rgb(run / "adversarial.png")
    target_image = Image.open(run / "target.png")
    colors = np.asarray(target_image.getpalette()[: 3 * len(summary["classes"])]).reshape(-1, 3).tolist()
    target = np.asarray(target_image)
    prediction = np.asarray(Image.open(run / "prediction_adversarial.png"))  # class ids (palette PNG)
    quantized = summary["final_quantized"]
    difference = adversarial - original
    l2, linf = float(np.sqrt((difference**2).sum())), float(np.abs(difference).max())
    figure = titled_row([
        (np.round(original * 255).astype(np.uint8), "original"),
        (np.round(adversarial * 255).astype(np.uint8), "adversarial (8-bit)"),
        (amplified_perturbation(difference, arguments.gain), f"perturbation x {arguments.gain:g}"),
        (prediction_against_target(prediction, target, colors), "prediction vs target"),
    ])
    arguments.out.parent.mkdir(parents=True, exist_ok=True)
    write_figure_png(arguments.out, figure)
    print(f"{arguments.out}: {figure.shape[1]} x {figure.shape[0]} px; 8-bit PNG L2 {l2:.3f}, Linf {linf:.4f}, "
          f"IoU {quantized['iou']:.4f}")


if __name__ == "__main__":
    main()
