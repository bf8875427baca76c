"""One attack for the command line: its progress bar, its out-of-memory fallback, one line for a
model that fails mid-run, and the few lines printed at the end (``attack`` and ``rerun``)."""

from __future__ import annotations

import sys

from ..errors import SegAttackError, first_line


class ProgressBar:
    """A tqdm bar on stderr fed by the runner's throttled snapshots."""

    def __init__(self, total: int, label: str, enabled: bool):
        from tqdm import tqdm

        self.bar = tqdm(total=total, desc=label, unit="it", file=sys.stderr, disable=not enabled, leave=False)

    def __call__(self, snapshot) -> None:
        self.bar.update(snapshot.iteration - self.bar.n)
        self.bar.set_postfix(iou=f"{snapshot.metrics['iou']:.3f}", l2=f"{snapshot.metrics['l2']:.3f}", refresh=False)

    def close(self) -> None:
        self.bar.close()


def warn(message: str) -> None:
    """A ``segattack: warning:`` line on stderr that does not break a progress bar."""
    from tqdm import tqdm

    tqdm.write(f"segattack: warning: {message}", file=sys.stderr)


def model_failure(model_path, interrupted, outcome: str = "nothing was written") -> SegAttackError:
    """The one line for a model that raised mid-run (the runner's AttackInterrupted)."""
    cause = interrupted.cause
    detail = first_line(cause)
    return SegAttackError(model_path, f"the model raised {type(cause).__name__} at iteration {interrupted.iteration}"
                                      f"{' (' + detail + ')' if detail else ''}; {outcome}")


def run_one(inputs, attack, model_path, *, quiet: bool, keep_frames: bool = False,
            stop_at: int | None = None) -> tuple:
    """One attack with a progress bar and the out-of-memory fallback; returns the result and, with
    ``keep_frames``, up to 200 iterates with their predictions for the GIF. ``stop_at``: stop there as a user
    would (a rerun of a stopped run). A model failure is one line."""
    from ..core.fallback import OutOfMemoryFallback
    from ..core.runner import AttackInterrupted, run_attack
    from ..io.figures import VOID_CLASS, GifFrame
    from ..io.run_folders import StopAtIteration

    frames: list = []
    progress = ProgressBar(attack.config.iterations, attack.name, enabled=not quiet)
    height, width = inputs.image.pixels.shape[:2]

    def on_snapshot(snapshot) -> None:
        progress(snapshot)
        if keep_frames and (snapshot.final or len(frames) < 200):
            grid = inputs.model.adapter.output_grid(height, width)
            prediction = grid.paste(snapshot.prediction, height, width, fill=VOID_CLASS)
            frames.append(GifFrame(snapshot.iteration, snapshot.adversarial, prediction,
                                   snapshot.metrics.get("iou")))

    def attack_once(adapter, _items) -> list:  # run again from the start after an out-of-memory fallback
        frames.clear()
        progress.bar.reset()
        return [run_attack(adapter, inputs.image.pixels, inputs.target.class_ids, attack,
                           region=None if inputs.region is None else inputs.region.class_ids > 0,
                           on_snapshot=on_snapshot, snapshot_interval=0.2,
                           control=None if stop_at is None else StopAtIteration(stop_at))]

    try:
        (result,) = OutOfMemoryFallback(inputs.model.adapter, on_message=warn).run(attack_once, [inputs.image.path])
    except AttackInterrupted as interrupted:
        raise model_failure(model_path, interrupted) from None
    finally:
        progress.close()
    if result.stop_reason == "non-finite" and result.iterations_run == 0:  # no finite iterate to keep
        raise SegAttackError(model_path, f"{result.error}; nothing was written")
    return result, frames


def print_outcome(result, out, units: str = "") -> None:
    """The run in a few lines; ``units``: the image's, for the norms in its own values (e.g. HU)."""
    final, quantized = result.final, result.final_quantized
    print(f"{result.method}: {result.iterations_run} iterations in {result.seconds:.1f} s on {result.device} "
          f"({result.stop_reason})")
    print(f"  IoU {final['iou']:.4f}  PA {final['pixel_accuracy']:.4f}  L2 {final['l2']:.4f}  Linf {final['linf']:.4f}")
    print(f"  exported image: IoU {quantized['iou']:.4f}  PA {quantized['pixel_accuracy']:.4f}"
          + (f"  L2 {quantized['l2_raw']:.6g}  Linf {quantized['linf_raw']:.6g} {units}".rstrip() if "linf_raw" in quantized
             else ""))
    if out is not None:
        print(f"  written to {out}")
    if result.error:
        warn(result.error)
