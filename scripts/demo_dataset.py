"""Write a small held-out synthetic dataset (images + ground-truth masks) for `segattack batch`.

    python scripts/demo_dataset.py --kind fundus --count 8 --out demo_data/fundus

Samples come from the held-out stream the demo models never trained on, skipping
the shipped demo image.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from segattack_gui.demo.catalog import DEMO_SAMPLE, HELDOUT_STREAM, sample_seed
from segattack_gui.demo.synthetic import KINDS
from segattack_gui.io.masks import write_class_png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(KINDS), default="fundus")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True)
    arguments = parser.parse_args()
    kind = KINDS[arguments.kind]
    images, masks = arguments.out / "images", arguments.out / "masks"
    images.mkdir(parents=True, exist_ok=True)
    masks.mkdir(parents=True, exist_ok=True)
    indices = [i for i in range(arguments.count + 1) if i != DEMO_SAMPLE[arguments.kind]][: arguments.count]
    for index in indices:
        pixels, labels = kind.generate(sample_seed(HELDOUT_STREAM, index))
        name = f"{arguments.kind}_{index:03d}.png"
        Image.fromarray(pixels).save(images / name)
        write_class_png(masks / name, labels, [tuple(c) for c in kind.colors])
    print(f"wrote {arguments.count} images and masks to {arguments.out}")


if __name__ == "__main__":
    main()
