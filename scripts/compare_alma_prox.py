"""SegAttack's ALMA prox against adv-lib 0.2.8's ``alma_prox``: same model, images, targets, one process.

    bash scripts/adv_lib_env.sh                       # adv-lib beside the checkout (.bench-deps)
    PYTHONPATH=.bench-deps/site:.bench-deps/stand-ins python3 scripts/compare_alma_prox.py \
        --images 8 --iterations 200 --threads 2

Images: synthetic fundus images of the demo generator (seeds 1000..), each attacked towards the
next one's true disc-and-cup mask; model: the shipped fundus demo U-Net with a fourth logit, the
mean of the three (see segattack_gui/bench/alma_comparison.py). Prints a markdown table.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import replace

import numpy as np
import torch

from segattack_gui.assets import resource_root
from segattack_gui.bench.alma_comparison import WithMeanLogit, run_adv_lib, run_ours
from segattack_gui.core.attacks.alma_prox import ALMAProxConfig
from segattack_gui.core.models import ModelAdapter
from segattack_gui.demo import DEMOS
from segattack_gui.demo.fundus import generate_fundus
from segattack_gui.io.model_files import load_model


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--images", type=int, default=8)
    parser.add_argument("--iterations", type=int, default=200)
    parser.add_argument("--batch-size", type=int, default=4)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--size", type=int, default=256, help="side of the generated images (the demo's: 256)")
    parser.add_argument("--only", choices=["ours", "adv-lib"], help="run one side only")
    parser.add_argument("--penalty-gradient", nargs="+", choices=["exact", "reference"], default=["exact", "reference"],
                        help="SegAttack's slopes of the penalty to run, each its own row (see alma_prox.py)")
    parser.add_argument("--timing-rounds", type=int, default=0, metavar="R",
                        help="also time both R times, alternately, for --timing-iterations on the first batch "
                        "(medians: a machine shared with other jobs slows both alike)")
    parser.add_argument("--timing-iterations", type=int, default=20, metavar="N")
    arguments = parser.parse_args()
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    demo = DEMOS["fundus"]
    loaded = load_model(demo.path("model", resource_root()), device="cpu")
    spec = loaded.adapter.spec
    four_class = type(spec)(**{**spec.__dict__, "classes": spec.classes + ("mean logit",)})
    adapter = ModelAdapter(WithMeanLogit(loaded.adapter.model), four_class, device="cpu")
    samples = [generate_fundus(1000 + index, size=arguments.size) for index in range(arguments.images + 1)]
    images = [image.astype(np.float32) / 255 for image, _ in samples[:-1]]
    targets = [labels.astype(np.int64) for _, labels in samples[1:]]
    configs = [ALMAProxConfig(iterations=arguments.iterations, penalty_gradient=slope)
               for slope in arguments.penalty_gradient]
    runners = []
    if arguments.only in (None, "ours"):
        runners += [(run_ours, config) for config in configs]
    if arguments.only in (None, "adv-lib"):
        runners.append((run_adv_lib, configs[0]))  # adv-lib reads only the shared fields
    outcomes = []
    for start in range(0, len(images), arguments.batch_size):  # interleaved, so a busy machine slows both alike
        chunk = slice(start, start + arguments.batch_size)
        for index, (run, config) in enumerate(runners):
            outcome = run(adapter, images[chunk], targets[chunk], config, arguments.batch_size)
            if len(outcomes) <= index:
                outcomes.append(outcome)
            else:
                outcomes[index].add(outcome)
    timings = {}
    if arguments.timing_rounds:
        first = slice(0, arguments.batch_size)
        for run, config in runners:  # warm-up: adv-lib compiles its prox on the first call
            run(adapter, images[first], targets[first], replace(config, iterations=2), arguments.batch_size)
        for _ in range(arguments.timing_rounds):
            for run, config in runners:
                short = replace(config, iterations=arguments.timing_iterations)
                outcome = run(adapter, images[first], targets[first], short, arguments.batch_size)
                timings.setdefault(outcome.label, []).append(outcome.image_iterations_per_second)
    print(f"{arguments.images} fundus images of {arguments.size}x{arguments.size}, {arguments.iterations} iterations, batch {arguments.batch_size}, "
          f"{torch.get_num_threads()} threads, torch {torch.__version__}")
    everyone = [all(reached) for reached in zip(*(outcome.reached for outcome in outcomes))]
    print(f"| implementation | reached 99 % | median L-inf (reached) | median L-inf on the {sum(everyone)} images "
          "all reached | image-iterations/s |")
    print("|---|---|---|---|---|")
    for outcome in outcomes:
        print(outcome.row(everyone))
    for label, rates in timings.items():
        print(f"{label}: median {np.median(rates):.2f} image-iterations/s over {len(rates)} alternating rounds of "
              f"{arguments.timing_iterations} iterations (each: {', '.join(f'{r:.2f}' for r in rates)})")
    for outcome in outcomes:
        print(outcome.label, "L-inf x255:", [round(v * 255, 2) for v in outcome.linf], "reached:",
              [int(r) for r in outcome.reached], file=sys.stderr)
    return 0


if __name__ == "__main__":
    sys.exit(main())
