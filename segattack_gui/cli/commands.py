"""``segattack``: the headless front end over the same runner the GUI uses (docs/design.md, Command line).

Bad input exits 2 with one line ``segattack: error: <file>: <problem>`` on stderr and
writes nothing; everything else that goes wrong is a bug and keeps its traceback.
"""

from __future__ import annotations

import argparse
import dataclasses
import math
import os
import sys
from pathlib import Path

from ..allocator import keep_freed_memory
from ..errors import SegAttackError
from .parser import (
    EXIT_BAD_INPUT,
    UNIVERSAL_FLAGS,
    attach_negative_values,
    build_parser,
)
from .evaluations import (
    check_targets_fit,
    extra_evaluations,
    load_evaluation_models,
    survival_tokens,
    with_ensemble,
)
from .single_run import model_failure, print_outcome, run_one, warn


def _accepted_parameters(method: str, flag: str = "--method") -> set[str]:
    from ..core.attacks import METHODS

    if method not in METHODS:
        raise SegAttackError(flag, f"unknown method {method!r} (known: {', '.join(METHODS)})")
    return {spec.name for spec in dataclasses.fields(METHODS[method].config_type)}


def _given_parameters(arguments: argparse.Namespace) -> dict:
    from ..core.attacks import METHODS

    every = {spec.name for attack_type in METHODS.values() for spec in dataclasses.fields(attack_type.config_type)}
    return {name: getattr(arguments, name) for name in every if getattr(arguments, name, None) is not None}


def method_parameters(arguments: argparse.Namespace, method: str) -> dict:
    """The flags given for ``method``; a flag the method does not take is an error."""
    accepted = _accepted_parameters(method)
    given = _given_parameters(arguments)
    foreign = sorted(set(given) - accepted)
    if foreign:
        flag = "--" + foreign[0].replace("_", "-")
        raise SegAttackError(flag, f"{method} takes no such parameter")
    return given


def batch_attacks(arguments: argparse.Namespace) -> tuple[list, dict[str, dict]]:
    """One attack per listed method; each flag goes to the methods that take it, and must fit one.

    Also, per method given ``--tau auto``, its parameters: the step is then picked per image
    (docs/step-size.md) and every image runs alone with its own tau (see ``batch.run_experiment``).
    """
    from ..core.attacks.step_size import is_auto, without_auto

    methods = [name.strip().lower() for name in arguments.methods.split(",") if name.strip()]
    if not methods:
        raise SegAttackError("--methods", "names no method")
    given = _given_parameters(arguments)
    accepted = {method: _accepted_parameters(method, "--methods") for method in methods}
    unused = sorted(set(given) - set().union(*accepted.values()))
    if unused:
        takers = f"{methods[0]} takes" if len(methods) == 1 else f"none of {', '.join(methods)} takes"
        raise SegAttackError("--" + unused[0].replace("_", "-"), f"{takers} no such parameter")
    if is_auto(given.get("tau")) and given.get("beta") is not None:
        raise SegAttackError("--beta", "is set by --tau auto (beta = 10 tau, the published ratio); leave it out")
    attacks, auto_steps = [], {}
    for method in methods:
        parameters = {k: v for k, v in given.items() if k in accepted[method]}
        attacks.append(build_attack(method, without_auto(parameters)))  # every other value checked now
        if is_auto(parameters.get("tau")):
            auto_steps[method] = parameters
    return attacks, auto_steps


def build_attack(method: str, parameters: dict):
    from ..core.attacks import create_attack
    from ..core.attacks.base import ParameterError

    try:
        return create_attack(method, **parameters)
    except ParameterError as error:
        raise SegAttackError(error.flag, error.problem) from None
    except ValueError as error:  # an unknown method or parameter
        raise SegAttackError("--method", str(error)) from None


def resolve_auto_parameters(inputs, method: str, parameters: dict, attack):
    """``attack`` itself, or for ``--tau auto`` the attack with the rule's tau and beta, and the rule."""
    from ..core.attacks.base import ParameterError
    from ..core.attacks.step_size import is_auto, with_auto_step

    if not is_auto(parameters.get("tau")):
        return attack, None
    region = None if inputs.region is None else inputs.region.class_ids > 0
    try:
        return with_auto_step(inputs.model.adapter, attack, parameters, inputs.image.pixels,
                              inputs.target.class_ids, region)
    except ParameterError as error:
        raise SegAttackError(error.flag, error.problem) from None


def _demo_paths(name: str) -> tuple[Path, Path, Path]:
    from ..assets import resource_path
    from ..demo import DEMOS

    demo = DEMOS[name]
    return resource_path(demo.model), resource_path(demo.image), resource_path(demo.target)


def attack_command(arguments: argparse.Namespace) -> int:
    from ..io.export import export_run
    from ..io.source_outputs import source_outputs
    from ..io.files import require_new_folder, require_writable_folder
    from ..io.inputs import load_attack_inputs, value_range

    if arguments.demo:
        given = [flag for flag in ("model", "image", "target") if getattr(arguments, flag) is not None]
        if given:  # the demo brings its own; silently attacking something else would mislead
            raise SegAttackError("--" + given[0], "cannot be combined with --demo (the demo brings its own)")
        model_path, image_path, target_path = _demo_paths(arguments.demo)
    else:
        missing = [flag for flag in ("model", "image", "target") if getattr(arguments, flag) is None]
        if missing:
            raise SegAttackError("--" + missing[0], "is required (or use --demo fundus|skin)")
        model_path, image_path, target_path = arguments.model, arguments.image, arguments.target
    out = arguments.out
    require_new_folder(out)  # checked before any work, so a clash or a typo costs nothing
    require_writable_folder(out)
    from ..core.attacks.step_size import without_auto

    parameters = method_parameters(arguments, arguments.method)
    if arguments.demo:
        from ..demo import DEMOS

        accepted = _accepted_parameters(arguments.method)
        demo_defaults = {k: v for k, v in DEMOS[arguments.demo].attack_parameters.items() if k in accepted}
        if "tau" in parameters:  # the demo's tau and beta go together: a tau given replaces both
            demo_defaults = {k: v for k, v in demo_defaults.items() if k not in ("tau", "beta", "first_step")}
        parameters = {**demo_defaults, **parameters}
    attack = build_attack(arguments.method, without_auto(parameters))  # every other value checked before loading
    survival = survival_tokens(arguments.survival)
    overrides = {key: value for key, value in (("input_policy", arguments.input_policy),
                                               ("input_size", arguments.input_size)) if value is not None}
    try:
        inputs = load_attack_inputs(model_path, image_path, target_path, arguments.region,
                                    trust_model=arguments.trust_model, device=arguments.device,
                                    precision=arguments.precision, mask_threshold=arguments.mask_threshold,
                                    mask_class=arguments.mask_class, slice_index=arguments.slice,
                                    axis=arguments.axis, model_overrides=overrides, fold=arguments.fold)
    except ValueError as error:  # e.g. CUDA asked for but absent
        raise SegAttackError("--device", str(error)) from None
    others = load_evaluation_models(arguments.evaluate_on, trust_model=arguments.trust_model,
                                    device=arguments.device, precision=arguments.precision)
    check_targets_fit(others, target_path, inputs.target.class_ids)
    members = load_evaluation_models(arguments.ensemble, trust_model=arguments.trust_model,
                                     device=arguments.device, precision=arguments.precision, flag="--ensemble")
    inputs, ensemble = with_ensemble(inputs, members)
    attack, step_rule = resolve_auto_parameters(inputs, arguments.method, parameters, attack)  # on the attacked model
    attack.grid_levels = inputs.image.export_levels  # --quantize steps on the exported file's grid
    for warning in inputs.warnings:
        warn(warning)
    result, frames = run_one(inputs, attack, model_path, quiet=arguments.quiet, keep_frames=arguments.gif)
    result, files = source_outputs(result, inputs.image, inputs.model.adapter)
    extra = extra_evaluations(result, others, survival, inputs.model.adapter, value_range(inputs.image))
    if ensemble:
        extra["ensemble"] = ensemble
    if step_rule is not None:
        extra["step_size"] = step_rule.record()
    if overrides:
        extra["model_overrides"] = overrides
    export_run(result, out, inputs.provenance(**extra), inputs.colors, frames if arguments.gif else None,
               extra_files=files)
    print_outcome(result, out, inputs.image.value_scale.units if inputs.image.value_scale else "")
    print_evaluations(extra)
    return 0


def print_evaluations(extra: dict) -> None:
    """One line per other model and per survival transform: IoU and PA against the target."""
    for name, scores in extra.get("evaluated_on", {}).items():
        print(f"  on {name}: IoU {scores['iou']:.4f}  PA {scores['pixel_accuracy']:.4f}  "
              f"(vs its clean prediction: PA {scores['pixel_accuracy_vs_clean']:.4f})")
        for warning in scores.get("warnings", ()):
            warn(f"{name}: {warning}")
    for row in extra.get("survival", []):
        print(f"  after {row['transform']}: IoU {row['iou']:.4f}  PA {row['pixel_accuracy']:.4f}")


def rerun_command(arguments: argparse.Namespace) -> int:
    from ..io.export import export_run
    from ..io.files import recorded_path, require_new_folder, require_writable_folder
    from ..io.inputs import load_attack_inputs, value_range
    from ..io.run_folders import read_run_folder, recorded_attack, recorded_file
    from ..io.source_outputs import source_outputs
    from ..io.model_files import load_model
    from .rerun import check_inputs_match, compare_judgements, compare_with_record, recorded_ensemble, version_notes

    if not (math.isfinite(arguments.tolerance) and arguments.tolerance >= 0):
        raise SegAttackError("--tolerance", f"must be a number >= 0, not {arguments.tolerance}")
    record = read_run_folder(arguments.run)
    summary = record.summary
    if arguments.out is not None:
        if arguments.out.absolute().is_relative_to(record.folder.absolute()):
            raise SegAttackError("--out", "is inside the run folder it repeats; choose a folder beside it")
        require_new_folder(arguments.out)
        require_writable_folder(arguments.out)
    model_path = arguments.model or recorded_file(record, "model_path", "pass --model with the file's place")
    image_path = arguments.image or recorded_file(record, "image_path", "pass --image with the file's place")
    recorded_device = summary.get("device") or "auto"
    attack, stop_at = recorded_attack(record)
    recorded_slice = summary.get("image_slice") or {}
    try:
        inputs = load_attack_inputs(model_path, image_path, record.target_file, record.region_file,
                                    trust_model=arguments.trust_model, device=arguments.device or recorded_device,
                                    precision=summary.get("precision", "fp32"),
                                    slice_index=recorded_slice.get("index"), axis=recorded_slice.get("axis"),
                                    model_overrides=summary.get("model_overrides"), fold=summary.get("model_fold"))
    except ValueError as error:  # a device this machine lacks
        if arguments.device:
            raise SegAttackError("--device", str(error)) from None
        raise SegAttackError("--device", f"{error}; the run used {recorded_device}: pass --device cpu to repeat it "
                                         "here (the numbers may then differ in the last digits)") from None
    checked, notes = check_inputs_match(record, inputs)
    def load_recorded(path, fold):  # another model the run recorded, on this rerun's device and precision
        return load_model(path, trust_pickle=arguments.trust_model, device=inputs.model.adapter.device,
                          precision=summary.get("precision", "fp32"), fold=fold)

    members = recorded_ensemble(record, load_recorded)
    inputs, ensemble = with_ensemble(inputs, members)
    if members:
        checked.append(f"the ensemble's {len(members)} other model{'s' if len(members) > 1 else ''}")
    notes += version_notes(summary)
    if str(inputs.model.adapter.device) != recorded_device:
        notes.append(f"the run used {recorded_device}, this rerun {inputs.model.adapter.device}: "
                     "other kernels, so the last digits may differ")
    if record.adversarial is None:
        notes.append("the run folder holds no adversarial.npy: the adversarial image was not compared")
    if record.batch_size > 1:
        notes.append(f"the run was one of a batch of {record.batch_size}; repeated alone, its float rounding "
                     "differs slightly, which a long run can grow (docs/robustness.md)")
    print(f"rerun of {record.folder}: {attack.name}, seed {attack.config.seed}, {summary.get('precision', 'fp32')}"
          + (f"; {', '.join(checked)} match the recorded SHA-256" if checked else ""))
    attack.grid_levels = inputs.image.export_levels
    result, _ = run_one(inputs, attack, model_path, quiet=arguments.quiet, stop_at=stop_at)
    result, files = source_outputs(result, inputs.image, inputs.model.adapter)
    comparison = compare_with_record(record, result, arguments.tolerance)
    notes += compare_judgements(comparison, record, result, inputs.model.adapter, value_range(inputs.image),
                                load_recorded)
    if arguments.out is not None:
        overrides = {"model_overrides": summary["model_overrides"]} if summary.get("model_overrides") else {}
        if ensemble:
            overrides["ensemble"] = ensemble
        export_run(result, arguments.out, inputs.provenance(rerun_of=recorded_path(record.folder), **overrides),
                   inputs.colors, extra_files=files)
    print_outcome(result, arguments.out, inputs.image.value_scale.units if inputs.image.value_scale else "")
    for note in notes:
        warn(note)
    print(comparison.verdict())
    return 0 if comparison.reproduced else 1


def batch_command(arguments: argparse.Namespace) -> int:
    from ..io.files import require_writable_folder
    from .distributed import join, leave

    attacks, auto_steps = batch_attacks(arguments)
    survival_tokens(arguments.survival)  # a bad list fails before any work
    if arguments.batch_size < 1:
        raise SegAttackError("--batch-size", "must be at least 1")
    require_writable_folder(arguments.out)  # before any work; an existing folder is resumed, so it may hold runs
    seed = arguments.seed if arguments.seed is not None else 0
    try:
        team = join(arguments.device)  # under torchrun: this process's rank, share and device; else None
    except ValueError as error:
        raise SegAttackError("--device", str(error)) from None
    try:
        return _run_batch_command(arguments, attacks, auto_steps, seed, team)
    finally:
        leave(team)


def _run_batch_command(arguments: argparse.Namespace, attacks: list, auto_steps: dict, seed: int, team) -> int:
    from ..core.runner import AttackInterrupted
    from ..io.model_files import load_model
    from .batch import make_pairs, run_experiment

    try:
        pairs = make_pairs(arguments.images, arguments.masks, arguments.targets, arguments.pairing, seed)
        model = load_model(arguments.model, trust_pickle=arguments.trust_model,
                           device=team.device if team else arguments.device, precision=arguments.precision,
                           fold=arguments.fold)
    except ValueError as error:
        raise SegAttackError("--device", str(error)) from None
    others = load_evaluation_models(arguments.evaluate_on, trust_model=arguments.trust_model,
                                    device=team.device if team else arguments.device, precision=arguments.precision)
    from tqdm import tqdm

    runs = len(team.share(pairs) if team else pairs) * len(attacks)
    bars = []  # made once the inputs are checked: a bad one must leave stderr one line

    def start_bar() -> None:
        bars.append(tqdm(total=runs, unit="run", file=sys.stderr, disable=arguments.quiet,
                         desc=f"rank {team.rank}" if team else None))

    def progress(line: str) -> None:
        bars[0].update(1)
        bars[0].set_postfix_str(line[:60], refresh=False)

    try:
        rows = run_experiment(model, pairs, attacks, arguments.out, batch_size=arguments.batch_size,
                              mask_threshold=arguments.mask_threshold, mask_class=arguments.mask_class,
                              progress=progress, on_message=warn, team=team,
                              on_checked=start_bar, evaluate_on=others,
                              survival=survival_tokens(arguments.survival), auto_steps=auto_steps)
    except AttackInterrupted as interrupted:  # finished run folders stay: the batch resumes from them
        kept = arguments.out.is_dir() and any(arguments.out.iterdir())  # runs finished before the failure
        outcome = f"the finished runs in {arguments.out} are kept; run again to resume" if kept else None
        raise model_failure(arguments.model, interrupted, outcome or "nothing was written") from None
    finally:
        for bar in bars:
            bar.close()
    if team is not None and not team.is_main:
        return 0  # rank 0 prints the table of the whole run
    print((arguments.out / "table.md").read_text(encoding="utf-8"), end="")
    methods, pair_count = len(rows), len(pairs)
    methods = sum(row["evaluation"] == "attacked" for row in rows)
    print(f"{methods} method{'s' * (methods != 1)} x {pair_count} pair{'s' * (pair_count != 1)}; "
          f"run folders and table.csv in {arguments.out}")
    return 0


def budget_command(arguments: argparse.Namespace) -> int:
    from ..core.runner import AttackInterrupted
    from ..io.files import require_writable_folder
    from ..io.model_files import load_model
    from .batch import make_pairs
    from .budget import parse_budgets, run_budget

    attacks, auto_steps = batch_attacks(arguments)
    linf_budgets = parse_budgets(arguments.linf_budgets, "--linf-budgets")
    l2_budgets = parse_budgets(arguments.l2_budgets, "--l2-budgets")
    if not 0 <= arguments.threshold <= 1:
        raise SegAttackError("--threshold", f"must be between 0 and 1, not {arguments.threshold}")
    if arguments.batch_size < 1:
        raise SegAttackError("--batch-size", "must be at least 1")
    require_writable_folder(arguments.out)
    seed = arguments.seed if arguments.seed is not None else 0
    try:
        pairs = make_pairs(arguments.images, arguments.masks, arguments.targets, arguments.pairing, seed)
        model = load_model(arguments.model, trust_pickle=arguments.trust_model, device=arguments.device,
                           precision=arguments.precision)
    except ValueError as error:
        raise SegAttackError("--device", str(error)) from None
    try:
        rows = run_budget(model, pairs, attacks, arguments.out, linf_budgets=linf_budgets, l2_budgets=l2_budgets,
                          criterion=arguments.success, threshold=arguments.threshold,
                          batch_size=arguments.batch_size, mask_threshold=arguments.mask_threshold,
                          mask_class=arguments.mask_class, on_message=warn, auto_steps=auto_steps)
    except AttackInterrupted as interrupted:
        raise model_failure(arguments.model, interrupted, f"finished runs in {arguments.out} are kept") from None
    for row in rows:
        if row["norm"] == "linf" and row["budget"] in linf_budgets:
            print(f"{row['method']:10s} L-inf {row['budget'] * 255:6.2f}/255: {100 * row['reached_share']:5.1f} % "
                  f"of {row['images']} reached")
    print(f"curves.csv, curves.svg and curves.png in {arguments.out}")
    return 0


def universal_command(arguments: argparse.Namespace) -> int:
    from ..core.attacks.base import ParameterError
    from ..core.attacks.universal import UniversalConfig
    from ..io.files import require_new_folder, require_writable_folder
    from ..io.model_files import load_model
    from .batch import list_images
    from .universal import run_universal

    given = {name: getattr(arguments, name) for name in UNIVERSAL_FLAGS if getattr(arguments, name) is not None}
    try:
        config = UniversalConfig(**given)
        config.validate()
    except ParameterError as error:
        raise SegAttackError(error.flag, error.problem) from None
    out = arguments.out
    require_new_folder(out)  # checked before any work, so a clash or a typo costs nothing
    require_writable_folder(out)
    images = list_images(arguments.images, plain_only=True)
    try:
        model = load_model(arguments.model, trust_pickle=arguments.trust_model, device=arguments.device,
                           precision=arguments.precision, fold=arguments.fold)
    except ValueError as error:
        raise SegAttackError("--device", str(error)) from None
    summary = run_universal(model, images, arguments.target, config, arguments.holdout, out,
                            mask_threshold=arguments.mask_threshold, mask_class=arguments.mask_class)
    for part in ("fitting", "held_out"):
        mean, quantized = summary[part]["mean"], summary[part]["mean_quantized"]
        if mean["iou"] is not None:
            print(f"{part:8s} n={len(summary[part]['images'])}  IoU {mean['iou']:.4f}  PA {mean['pixel_accuracy']:.4f}"
                  f"  L2 {mean['l2']:.4f}  Linf {mean['linf']:.4f}  (8-bit: IoU {quantized['iou']:.4f})")
    print(f"  written to {out}")
    return 0


def _print_training_progress(message: str, fraction: float) -> None:
    print(f"[{fraction:4.0%}] {message}", file=sys.stderr)


def demo_command(arguments: argparse.Namespace) -> int:
    from ..assets import in_source_checkout, resource_root
    from ..demo import train_demo_models

    if arguments.out is None and arguments.quick:  # a quick run's models would replace the working demo
        raise SegAttackError("--quick", "trains throw-away models: pass --out DIR, the shipped demo stays as it is")
    if arguments.out is None and not in_source_checkout():
        raise SegAttackError("--out", "is required: the shipped demo models belong to the installed package "
                                      f"({resource_root()}); retraining them in place is for a source checkout")
    out = arguments.out or resource_root()
    try:
        out.mkdir(parents=True, exist_ok=True)
        probe = out / ".write-test"
        probe.write_bytes(b"")
        probe.unlink()
    except OSError as error:
        raise SegAttackError(out, f"cannot write here ({error.strerror or error}); pass --out DIR") from None
    report = train_demo_models(out, quick=arguments.quick,
                               progress=None if arguments.quiet else _print_training_progress)
    for name, record in report.items():
        sidecar = record.get("sidecar", {}) if isinstance(record, dict) else {}
        print(f"{name}: held-out Dice {sidecar.get('heldout_dice')}, written to {out}")
    return 0


def bench_command(arguments: argparse.Namespace) -> int:
    import json

    import torch

    from ..bench import BENCH_MODELS, parse_precisions, run_bench
    from ..bench.adv_lib import load_adv_lib_asma
    from ..core.models import resolve_device

    try:
        device = resolve_device(arguments.device)
    except (ValueError, RuntimeError) as error:
        raise SegAttackError("--device", str(error)) from None
    try:
        precisions = parse_precisions(arguments.precision)
    except ValueError as error:
        raise SegAttackError("--precision", str(error)) from None
    for flag in ("iterations", "batch_size", "rounds", "threads"):
        value = getattr(arguments, flag)
        if value is not None and value < 1:
            raise SegAttackError("--" + flag.replace("_", "-"), "must be at least 1")
    if arguments.threads:
        torch.set_num_threads(arguments.threads)
    on_cuda = device.type == "cuda"
    model = BENCH_MODELS[arguments.model or ("unet" if on_cuda else "demo")](arguments.seed)
    progress = None if arguments.quiet else (lambda line: print(line, file=sys.stderr, flush=True))
    adv_lib, adv_lib_label = (None, "adv-lib left out (--no-adv-lib)") if arguments.no_adv_lib else load_adv_lib_asma()
    try:
        report = run_bench(model, device, precisions=precisions, adv_lib=adv_lib,
                           iterations=arguments.iterations or (50 if on_cuda else 20),
                           batch_size=arguments.batch_size or (8 if on_cuda else 4),
                           rounds=arguments.rounds, warmup_iterations=5 if on_cuda else 2, progress=progress)
    except ValueError as error:
        raise SegAttackError("--precision", str(error)) from None
    report.notes.append(f"adv-lib baseline: {adv_lib_label}")
    report.notes.append(f"host memory: {keep_freed_memory()}")
    if arguments.save_json is not None:
        try:
            arguments.save_json.write_text(json.dumps(report.as_dict(), indent=2) + "\n")
        except OSError as error:
            raise SegAttackError(arguments.save_json, f"cannot write the report ({error.strerror or error})") from None
    print(json.dumps(report.as_dict(), indent=2) if arguments.json else report.text())
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    arguments, unknown = parser.parse_known_args(attach_negative_values(sys.argv[1:] if argv is None else list(argv)))
    if unknown:  # said by the command's own parser, so the line points to its --help
        parser.command_parsers[arguments.command].error(f"unrecognized arguments: {' '.join(unknown)}")
    keep_freed_memory()
    try:
        if arguments.command == "attack":
            return attack_command(arguments)
        if arguments.command == "batch":
            return batch_command(arguments)
        if arguments.command == "universal":
            return universal_command(arguments)
        if arguments.command == "budget":
            return budget_command(arguments)
        if arguments.command == "rerun":
            return rerun_command(arguments)
        if arguments.command == "demo":
            return demo_command(arguments)
        if arguments.command == "bench":
            return bench_command(arguments)
    except SegAttackError as error:
        print(f"segattack: error: {error.one_line()}", file=sys.stderr)
        return EXIT_BAD_INPUT
    except KeyboardInterrupt:
        print("segattack: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:  # the reader went away (`segattack bench | head`): no traceback for that
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # so the exit's flush cannot fail again
        return 1
    parser.error(f"unknown command {arguments.command}")
    return EXIT_BAD_INPUT
