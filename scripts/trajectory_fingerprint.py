"""Every number a fixed set of attacks produces, saved, so a refactor can be checked bit for bit.

    python scripts/trajectory_fingerprint.py save before.npz      # on the old code
    python scripts/trajectory_fingerprint.py save after.npz       # on the new code
    python scripts/trajectory_fingerprint.py compare before.npz after.npz

The set: seeded small U-Nets with two and three classes, three 32 x 32 images each with its
own target, attacked together for 30 iterations by ASMA, SSM, ASM with a stop IoU, PGD, DAG,
CosPGD, SegPGD and ASMA with --quantize. Saved per item: the adversarial and best images, the
final prediction, every history column but the wall-clock seconds, the final, quantized and
best metrics, the stop reason and the iteration count. ``compare`` lists what differs and
exits 1 if anything does.
"""

from __future__ import annotations

import argparse
import sys

import numpy as np
import torch

from segattack_gui.core.architectures import PaddedUNet
from segattack_gui.core.attacks import create_attack
from segattack_gui.core.models import ModelAdapter, ModelSpec
from segattack_gui.core.runner import run_batch

SETTINGS = [
    ("asma", {"tau": 1e-3, "beta": 1e-2}), ("ssm", {"tau": 1e-3}), ("asm", {"tau": 1e-3, "stop_iou": 0.6}),
    ("pgd", {}), ("dag", {}), ("cospgd", {}), ("segpgd", {}), ("asma", {"tau": 1e-3, "quantize": True}),
]


def fingerprint() -> dict[str, np.ndarray]:
    arrays: dict[str, np.ndarray] = {}
    for num_classes in (2, 3):
        torch.manual_seed(0)
        model = PaddedUNet(in_channels=3, num_classes=num_classes, widths=(4, 8))
        adapter = ModelAdapter(model, ModelSpec(classes=("a", "b", "c")[:num_classes]))
        rng = np.random.default_rng(1)
        images = [rng.uniform(0, 1, (32, 32, 3)).astype(np.float32) for _ in range(3)]
        targets = [np.zeros((32, 32), np.int64) for _ in range(3)]
        targets[0][8:24, 8:24] = 1
        targets[1][:, :16] = num_classes - 1
        targets[2][4:10, 4:30] = 1
        for method, parameters in SETTINGS:
            results = run_batch(adapter, images, targets, create_attack(method, iterations=30, **parameters))
            for item, result in enumerate(results):
                key = f"K{num_classes}-{method}-{'-'.join(map(str, parameters.values())) or 'defaults'}-{item}"
                arrays[f"{key}-adversarial"] = result.adversarial
                arrays[f"{key}-best_adversarial"] = result.best_adversarial
                arrays[f"{key}-prediction"] = result.prediction_adversarial
                for column, values in result.history.items():
                    if column != "seconds":
                        arrays[f"{key}-history-{column}"] = np.asarray(values)
                arrays[f"{key}-outcome"] = np.asarray(repr((result.final, result.final_quantized, result.best,
                                                            result.stop_reason, result.iterations_run)))
    return arrays


def compare(before: str, after: str) -> int:
    old, new = np.load(before), np.load(after)
    differ = sorted(key for key in set(old.files) | set(new.files)
                    if key not in old.files or key not in new.files or not np.array_equal(old[key], new[key]))
    for key in differ:
        print(f"differs: {key}")
    print(f"{len(differ)} of {len(set(old.files) | set(new.files))} arrays differ")
    return 1 if differ else 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    save = commands.add_parser("save")
    save.add_argument("file")
    both = commands.add_parser("compare")
    both.add_argument("before")
    both.add_argument("after")
    arguments = parser.parse_args(argv)
    if arguments.command == "compare":
        return compare(arguments.before, arguments.after)
    arrays = fingerprint()
    np.savez(arguments.file, **arrays)
    print(f"{len(arrays)} arrays written to {arguments.file}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
