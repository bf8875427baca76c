"""Write a small held-out synthetic dataset (images, ground-truth masks, targets) for `segattack batch`.

    python scripts/demo_dataset.py --kind fundus --count 8 --out demo_data/fundus
    segattack batch --model resources/models/fundus_unet.pt --images demo_data/fundus/images \
        --targets demo_data/fundus/targets --methods asma --tau auto --first-step 3/255 ...

Samples come from the held-out stream the demo models never trained on, skipping
the shipped demo image. ``targets/`` holds each image's target chosen by the demo's own rule
(another generated image's structure placed on this one's, see ``demo.catalog.pick_target``);
``--direction shrink`` picks targets that erase part of the structure instead of growing it;
``--demo-image`` writes the shipped demo image alone (with ``--direction shrink``: the erasing target
the README's demo table measures beside the shipped one).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from PIL import Image

from segattack_gui.demo.catalog import DEMO_SAMPLE, DIRECTIONS, HELDOUT_STREAM, pick_target, sample_seed
from segattack_gui.demo.synthetic import KINDS
from segattack_gui.io.masks import write_class_png


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=sorted(KINDS), default="fundus")
    parser.add_argument("--count", type=int, default=8)
    parser.add_argument("--out", type=Path, required=True)
    parser.add_argument("--direction", choices=DIRECTIONS, default="grow",
                        help="targets that grow the structure (the demo's rule) or shrink it")
    parser.add_argument("--demo-image", action="store_true", help="the shipped demo image alone")
    arguments = parser.parse_args()
    kind = KINDS[arguments.kind]
    images, masks, targets = arguments.out / "images", arguments.out / "masks", arguments.out / "targets"
    for folder in (images, masks, targets):
        folder.mkdir(parents=True, exist_ok=True)
    indices = [i for i in range(arguments.count + 1) if i != DEMO_SAMPLE[arguments.kind]][: arguments.count]
    if arguments.demo_image:
        indices = [DEMO_SAMPLE[arguments.kind]]
    for index in indices:
        host = sample_seed(HELDOUT_STREAM, index)
        pixels, labels = kind.generate(host)
        name = f"{arguments.kind}_{index:03d}.png"
        colors = [tuple(c) for c in kind.colors]
        Image.fromarray(pixels).save(images / name)
        write_class_png(masks / name, labels, colors)
        write_class_png(targets / name, pick_target(kind, host, direction=arguments.direction)[0], colors)
    print(f"wrote {len(indices)} images, masks and targets to {arguments.out}")


if __name__ == "__main__":
    main()
