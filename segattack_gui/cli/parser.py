"""The ``segattack`` command line: its flags, their help and defaults, and one-line parse errors.

Flags of the attack parameters come from the methods' configuration dataclasses
(``core.attacks``), so a method's parameters, defaults and help read the same in
``--help``, the GUI's tooltips and ``summary.json``.
"""

from __future__ import annotations

import argparse
import dataclasses
from pathlib import Path

from .. import __version__

EXIT_BAD_INPUT = 2


class OneLineParser(argparse.ArgumentParser):
    """argparse whose errors are the one line docs/design.md (Command line) asks for (a pointer to --help instead of the usage block).

    Subparsers inherit the class, so ``segattack attack --iterations abc`` ends the same way.
    """

    def error(self, message: str):
        problem = " ".join(message.removeprefix("argument ").split())  # "--iterations: invalid int value: 'abc'"
        self.exit(EXIT_BAD_INPUT, f"segattack: error: {problem} (see {self.prog} --help)\n")


def _is_number(token: str) -> bool:
    try:
        float(token)
    except ValueError:
        return False
    return True


def attach_negative_values(argv: list[str]) -> list[str]:
    """``--beta -inf`` as ``--beta=-inf``: argparse reads a value after a flag as another flag
    when it starts with '-' and is not a plain decimal ('-inf', '-1e-3'), so it would never reach
    the parameter check that explains what is wrong with it."""
    joined: list[str] = []
    for token in argv:
        previous = joined[-1] if joined else ""
        if previous.startswith("--") and previous != "--" and "=" not in previous and token.startswith("-") \
                and _is_number(token):
            joined[-1] = f"{previous}={token}"
        else:
            joined.append(token)
    return joined


def _mask_threshold(text: str) -> int:
    """Foreground is a grey level above the threshold, so only 0-254 leaves both classes possible."""
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"invalid int value: {text!r}") from None
    if not 0 <= value <= 254:
        raise argparse.ArgumentTypeError(f"must be a grey level from 0 to 254, got {value}")
    return value


def _add_mask_threshold(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--mask-threshold", type=_mask_threshold, default=20, metavar="N",
                        help="grey level (0-254) above which an anti-aliased binary mask is foreground (default 20)")
    parser.add_argument("--mask-class", type=int, default=None, metavar="C",
                        help="the class a binary (0/255 or anti-aliased) target mask marks, e.g. 1 for a RIM-ONE "
                        "disc mask and a disc-and-cup model (default: none; a 0/255 mask then marks class 1, and "
                        "an anti-aliased one is read only for a two-class model)")


def _number(text: str) -> float:
    """A float, also written as a fraction of 8-bit steps such as ``8/255``."""
    from ..core.attacks.base import parse_number

    try:
        return parse_number(text, float)
    except (ValueError, ZeroDivisionError):
        raise argparse.ArgumentTypeError(f"invalid number: {text!r}") from None


def _number_or_auto(text: str) -> float | str:
    """A number, or the word ``auto`` for a parameter picked by a documented rule (docs/step-size.md)."""
    from ..core.attacks.step_size import AUTO, is_auto

    if is_auto(text):
        return AUTO
    try:
        return _number(text)
    except argparse.ArgumentTypeError:
        raise argparse.ArgumentTypeError(f"invalid number: {text!r} (a number or auto)") from None


def _add_method_parameters(parser: argparse.ArgumentParser) -> None:
    """One flag per configuration field of any registered method."""
    from ..core.attacks import METHODS

    _add_config_flags(parser, {method: attack_type.config_type for method, attack_type in METHODS.items()})


UNIVERSAL_FLAGS = ("iterations", "epsilon", "alpha", "batch_size", "stop_iou", "quantize", "quantize_fraction", "seed")


def _add_universal_parameters(parser: argparse.ArgumentParser) -> None:
    from ..core.attacks.universal import UniversalConfig

    _add_config_flags(parser, {"universal": UniversalConfig}, only=UNIVERSAL_FLAGS)


def _add_config_flags(parser: argparse.ArgumentParser, configs: dict[str, type], only=None) -> None:
    """A flag per field of the configuration dataclasses (help from their metadata), with its
    default and, when not every method has it, the methods that read it."""
    from ..core.attacks.base import format_value

    seen: dict[str, dataclasses.Field] = {}
    users: dict[str, list[str]] = {}
    for method, config_type in configs.items():
        for spec in dataclasses.fields(config_type):
            if only is None or spec.name in only:
                seen.setdefault(spec.name, spec)
                users.setdefault(spec.name, []).append(method)
    for name, spec in seen.items():
        flag = "--" + name.replace("_", "-")
        default = "off" if spec.default is None else format_value(spec.default)
        readers = (spec.metadata.get("applies_when") or {}).get("method") or users[name]  # beta: ASMA alone
        readers = [readers] if isinstance(readers, str) else list(readers)
        methods = "" if len(readers) == len(configs) else f"; {', '.join(readers)}"
        help_text = f"{spec.metadata.get('help', '')} (default {default}{methods})"
        if spec.type in ("bool", bool):
            parser.add_argument(flag, dest=name, action="store_true", default=None, help=help_text)
        elif name in ("iterations", "seed") or spec.type in ("int", int):
            parser.add_argument(flag, dest=name, type=int, default=None, metavar="N", help=help_text)
        elif spec.metadata.get("choices"):
            parser.add_argument(flag, dest=name, choices=spec.metadata["choices"], default=None, help=help_text)
        elif spec.metadata.get("auto"):
            parser.add_argument(flag, dest=name, type=_number_or_auto, default=None, metavar="F|auto", help=help_text)
        else:
            parser.add_argument(flag, dest=name, type=_number, default=None, metavar="F", help=help_text)


def _demo_settings() -> str:
    from ..core.attacks.base import format_value
    from ..demo.catalog import DEMO_ATTACK

    return "ASMA, " + ", ".join(f"{name.replace('_', ' ')} {format_value(value)}" for name, value in DEMO_ATTACK["fundus"])


MODEL_HELP = ("model file or folder: torch.export .pt2, TorchScript, state dict or .safetensors (+ sidecar), "
              "pickled model, nnU-Net trained-model folder or checkpoint, MONAI bundle, save_pretrained folder")


def _add_run_options(parser: argparse.ArgumentParser) -> None:
    """Where and how the model runs, and how the command talks: the same for every attacking command."""
    parser.add_argument("--device", default="auto", help="auto (a CUDA GPU when there is one), cpu, cuda or "
                        "cuda:N (default auto)")
    parser.add_argument("--precision", default="fp32", choices=["fp32", "tf32", "bf16"],
                        help="fp32: the reference numbers; tf32 (CUDA) and bf16: faster (default fp32)")
    _add_mask_threshold(parser)
    parser.add_argument("--trust-model", action="store_true", help="allow loading models that run code: pickled "
                        "models, state dicts whose sidecar names an importable architecture, MONAI bundles with "
                        "expressions")
    parser.add_argument("--fold", type=int, default=None, metavar="N", help="one fold of an nnU-Net trained-model "
                        "folder (default: every fold present, ensembled as nnU-Net does)")
    parser.add_argument("--quiet", action="store_true", help="no progress bar")


def _add_evaluation_options(parser: argparse.ArgumentParser) -> None:
    """Judging the adversarial again: on other models (transfer) and after transforms (survival)."""
    from ..io.survival import DEFAULT_SURVIVAL

    parser.add_argument("--evaluate-on", nargs="+", type=Path, metavar="MODEL",
                        help="also score the adversarial on these models (transfer): IoU and pixel accuracy against "
                        "the target and against each model's clean prediction, in summary.json (evaluated_on) "
                        "and table.csv")
    parser.add_argument("--survival", default=DEFAULT_SURVIVAL, metavar="LIST",
                        help="score the adversarial again after these transforms: png8, png16, jpegQ, blurS, "
                        f"rescaleF, or none (default {DEFAULT_SURVIVAL})")


def build_parser() -> argparse.ArgumentParser:
    from ..core.attacks import METHODS

    parser = OneLineParser(prog="segattack", description="Targeted adversarial attacks on segmentation models.")
    parser.add_argument("--version", action="version", version=f"segattack {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    parser.command_parsers = commands.choices  # name -> its parser, for errors found after parsing

    attack = commands.add_parser("attack", help="attack one image towards a target mask and export the run folder")
    attack.add_argument("--demo", choices=["fundus", "skin"],
                        help="use a shipped demo model, image and target, and the demo's settings "
                        f"({_demo_settings()}) unless given (not with --model, --image, --target)")
    attack.add_argument("--model", type=Path, help=MODEL_HELP)
    attack.add_argument("--image", type=Path, help="image to attack (PNG, JPEG, TIFF incl. 16-bit, BMP; DICOM file or "
                        "one-series folder; NIfTI .nii/.nii.gz)")
    attack.add_argument("--slice", type=int, help="DICOM frame or series slice, NIfTI slice (default: the middle one)")
    attack.add_argument("--axis", type=int, choices=[0, 1, 2], help="NIfTI axis to slice along (default 2)")
    attack.add_argument("--target", type=Path, help="target mask on the image grid (class ids, 0/255 or palette PNG; "
                        "NIfTI label map: the same slice)")
    attack.add_argument("--region", type=Path,
                        help="mask of the pixels allowed to change (non-zero = allowed); also with --demo")
    attack.add_argument("--method", default="asma", type=str.lower, help=f"one of {', '.join(METHODS)} (default asma)")
    _add_run_options(attack)
    _add_evaluation_options(attack)
    attack.add_argument("--ensemble", nargs="+", type=Path, metavar="MODEL",
                        help="craft on the mean of the logits of --model and these models, for attacks that "
                        "transfer (same classes and output grid)")
    attack.add_argument("--gif", action="store_true", help="also write iterations.gif")
    attack.add_argument("--input-policy", choices=["pad", "resize", "tile"],
                        help="how the model meets an image larger than its input: overrides the sidecar's "
                             "input_policy (recorded; rerun repeats it)")
    attack.add_argument("--input-size", type=int, nargs=2, metavar=("H", "W"),
                        help="the model's input (or tile) size: overrides the sidecar's input_size")
    attack.add_argument("--out", type=Path, required=True, help="run folder to create")
    _add_method_parameters(attack)

    batch = commands.add_parser("batch", help="the paper's protocol over a dataset: run folders plus table.csv/md")
    batch.add_argument("--model", type=Path, required=True, help=MODEL_HELP)
    batch.add_argument("--images", type=Path, required=True,
                       help="folder of images (PNG, JPEG, TIFF, BMP; DICOM and NIfTI files: their middle slice)")
    batch.add_argument("--masks", type=Path, help="folder of masks named like the images")
    batch.add_argument("--pairing", choices=["shuffle", "same-name"], default="shuffle",
                       help="shuffle: each image towards another image's mask (a derangement seeded by --seed); "
                       "same-name: towards its own mask (default shuffle)")
    batch.add_argument("--targets", type=Path, help="folder of targets named like the images (overrides pairing)")
    batch.add_argument("--methods", default="ssm,asm,asma", help="comma-separated methods (default ssm,asm,asma)")
    batch.add_argument("--batch-size", type=int, default=1,
                       help="images attacked together (same size only; recorded per run) (default 1)")
    _add_run_options(batch)
    _add_evaluation_options(batch)
    batch.add_argument("--out", type=Path, required=True, help="folder for run folders and tables (resumable)")
    _add_method_parameters(batch)

    budget = commands.add_parser("budget", help="share of images reaching the target against the L-inf and L2 "
                                 "budget, per method: curves.csv and curves.svg/png")
    budget.add_argument("--model", type=Path, required=True, help="TorchScript, state dict (+ sidecar) or pickled model")
    budget.add_argument("--images", type=Path, required=True,
                        help="folder of images (PNG, JPEG, TIFF, BMP; DICOM and NIfTI files: their middle slice)")
    budget.add_argument("--masks", type=Path, help="folder of masks named like the images")
    budget.add_argument("--pairing", choices=["shuffle", "same-name"], default="shuffle",
                        help="as for batch (default shuffle)")
    budget.add_argument("--targets", type=Path, help="folder of targets named like the images (overrides pairing)")
    budget.add_argument("--methods", default="alma_prox,pgd",
                        help="comma-separated; methods with a budget (pgd, segpgd, cospgd) run once per budget, the "
                        "others once per image (default alma_prox,pgd)")
    budget.add_argument("--linf-budgets", default="1/255,2/255,4/255,8/255,16/255", metavar="LIST",
                        help="L-inf budgets, comma-separated (default 1/255,2/255,4/255,8/255,16/255)")
    budget.add_argument("--l2-budgets", default="", metavar="LIST",
                        help="L2 budgets, comma-separated (default none: the L2 curve of the one-run methods only)")
    budget.add_argument("--success", choices=["pa", "iou"], default="pa",
                        help="reached means pixel accuracy (pa) or IoU with the target at least --threshold (default pa)")
    budget.add_argument("--threshold", type=_number, default=0.99, metavar="F", help="(default 0.99)")
    budget.add_argument("--batch-size", type=int, default=1, help="images attacked together (default 1)")
    _add_run_options(budget)
    budget.add_argument("--out", type=Path, required=True, help="folder for run folders, curves.csv and the figure")
    _add_method_parameters(budget)

    universal = commands.add_parser("universal", help="one perturbation for a set of images (static target)")
    universal.add_argument("--model", type=Path, required=True,
                           help=MODEL_HELP)
    universal.add_argument("--images", type=Path, required=True, help="folder of equally sized images")
    universal.add_argument("--target", type=Path, required=True, help="the one target mask for every image")
    universal.add_argument("--holdout", type=int, default=1,
                           help="last N images (name order) kept out of fitting, to test transfer (default 1)")
    _add_universal_parameters(universal)
    _add_run_options(universal)
    universal.add_argument("--out", type=Path, required=True, help="run folder to create")

    rerun = commands.add_parser("rerun", help="repeat a run from its folder and check the numbers come out the same")
    rerun.add_argument("run", type=Path, help="a run folder written by attack, batch or the window (holds summary.json)")
    rerun.add_argument("--model", type=Path, help="the model file, if it moved (default: the path the run recorded)")
    rerun.add_argument("--image", type=Path, help="the image file, if it moved (default: the path the run recorded)")
    rerun.add_argument("--device", help="auto, cpu, cuda or cuda:N (default: the device the run recorded)")
    rerun.add_argument("--tolerance", type=float, default=1e-6, metavar="F",
                       help="largest difference still counted as reproduced: absolute for values up to 1, "
                       "relative beyond (default 1e-06; 0 asks for identical numbers)")
    rerun.add_argument("--trust-model", action="store_true", help="allow loading models that run code (pickled, "
                       "architectures by import name, MONAI bundles with expressions)")
    rerun.add_argument("--out", type=Path, help="also export the rerun as a new run folder (default: write nothing)")
    rerun.add_argument("--quiet", action="store_true", help="no progress bar")

    demo = commands.add_parser("demo", help="regenerate the demo data and retrain the demo models")
    demo.add_argument("--out", type=Path, help="folder to write into (default, in a source checkout only: its "
                      "resources/ folder, replacing the shipped demo)")
    demo.add_argument("--quick", action="store_true", help="a tiny training run (for tests; needs --out)")
    demo.add_argument("--quiet", action="store_true")

    bench = commands.add_parser("bench", help="iterations per second of the engine vs the published loop and the "
                                "forward+backward floor, in one process")
    bench.add_argument("--device", default="auto", help="auto, cpu, cuda or cuda:N")
    bench.add_argument("--model", choices=["demo", "skin", "unet"],
                       help="demo: the fundus demo U-Net at 256x256; skin: the dermoscopy demo; unet: the paper's "
                            "U-Net at 572 (default: unet on CUDA, demo on CPU)")
    bench.add_argument("--iterations", type=int, metavar="N", help="iterations per timed run (default 50 CUDA, 20 CPU)")
    bench.add_argument("--batch-size", type=int, metavar="B", help="batch for the batched runs (default 8 CUDA, 4 CPU)")
    bench.add_argument("--precision", default="all", help="fp32, tf32, bf16, a comma list, or all available (default)")
    bench.add_argument("--rounds", type=int, default=3, metavar="R", help="interleaved timed rounds; medians count")
    bench.add_argument("--threads", type=int, metavar="N", help="CPU threads for torch (default: torch's choice)")
    bench.add_argument("--seed", type=int, default=0, help="seed of the random weights and images")
    bench.add_argument("--json", action="store_true", help="print one JSON object instead of the table")
    bench.add_argument("--save-json", type=Path, metavar="FILE",
                       help="also write the JSON object to FILE (the table for reading, the JSON for the record)")
    bench.add_argument("--no-adv-lib", action="store_true",
                       help="leave out adv-lib's asma (timed beside the engine whenever adv-lib is installed)")
    bench.add_argument("--quiet", action="store_true", help="no progress lines on stderr")
    return parser
