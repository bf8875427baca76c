"""Drive an attack: one loop for every method, batched, with live snapshots (docs/design.md: Attacks, Performance).

Each iteration reads like the paper: forward, prediction, metrics, objective, input
gradient, step, projection, region and [0, 1] box. Metrics stay on the device in a
preallocated history; the host synchronises only when a snapshot is due or every
``check_every`` iterations to see whether every item has stopped. Row ``n`` of the
history describes iterate ``x_n`` (row 0 is the start), so a run of N steps has
N + 1 rows and N + 1 forward passes.
"""

from __future__ import annotations

import logging
import math
import threading
import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np
import torch
import torch.nn.functional as F

from ..errors import first_line
from .attacks.base import Attack, StepInputs
from .fallback import is_out_of_memory
from .metrics import (
    difference_norms,
    max_abs,
    perturbation_norms,
    psnr,
    segmentation_scores,
    ssim,
    target_codes,
)
from .models import ModelAdapter, class_ids
from .results import HISTORY_COLUMNS, AttackResult, Snapshot

log = logging.getLogger(__name__)

SnapshotCallback = Callable[[Snapshot], None]

LIVE_SNAPSHOT_INTERVAL = 0.1
"""Seconds between the GUI's snapshots: 10 a second, more than its views redraw (8 a second at
most), so every redraw has a new frame and no snapshot is copied for nothing (docs/design.md, Window: 20 at most)."""

_REASONS = ("iterations", "stop_iou", "finished", "non-finite", "user", "non-finite output")
"""Why an item stopped; "non-finite output" (the model's output at the stop row is NaN or infinite, so
that row is dropped) reaches ``AttackResult.stop_reason`` as "non-finite", with its own error text."""


def _last_kept_row(stopped_at: int, reason: str) -> int:
    """The last row an item keeps: the one it stopped at, or the one before when the model's output
    there was NaN or infinite (that row is dropped)."""
    return max(stopped_at - 1, 0) if reason == "non-finite output" else stopped_at


MODEL_ERROR = "model error"
"""``stop_reason`` of the items a model failure interrupted (see :class:`AttackInterrupted`)."""


class AttackInterrupted(Exception):
    """The model raised mid-run; nothing computed before the failure is lost.

    ``results`` (one per item of the batch, like :func:`run_batch`) keep every iterate the model
    did evaluate: ``adversarial`` is the last of them, ``history`` ends with it, items still
    running have ``stop_reason == "model error"`` and ``error`` set. ``results`` is empty when the
    failure came before any iterate was evaluated, or when the model fails on the kept iterates
    too. ``cause`` is the model's exception (also ``__cause__``). Out-of-memory errors are not
    wrapped: they propagate unchanged, for :mod:`.fallback` to retry.
    """

    def __init__(self, iteration: int, cause: BaseException, results: list[AttackResult]):
        self.iteration = iteration
        self.cause = cause
        self.results = results
        detail = first_line(cause)
        kept = (f"the partial result keeps iterations 0..{max(r.iterations_run for r in results)}" if results
                else "no iterate could be kept")
        super().__init__(f"the model raised {type(cause).__name__} at iteration {iteration}"
                         f"{': ' + detail if detail else ''}; {kept}")

    @property
    def result(self) -> AttackResult | None:
        """The partial result of a single-image run (the first item), or None."""
        return self.results[0] if self.results else None

    def __reduce__(self):  # picklable (worker processes), although __init__ takes more than the message
        return type(self), (self.iteration, self.cause, self.results)


class AttackControl:
    """Pause, resume and stop flags that the loop polls once per iteration (thread-safe)."""

    def __init__(self):
        self._stop = threading.Event()
        self._resume = threading.Event()
        self._resume.set()

    def pause(self) -> None:
        self._resume.clear()

    def resume(self) -> None:
        self._resume.set()

    def stop(self) -> None:
        self._stop.set()
        self._resume.set()

    @property
    def paused(self) -> bool:
        return not self._resume.is_set()

    @property
    def stop_requested(self) -> bool:
        return self._stop.is_set()

    def wait_while_paused(self) -> None:
        while not self._resume.wait(0.05):
            pass


@dataclass
class _BatchState:
    """Per-item bookkeeping that lives on the device."""

    active: torch.Tensor
    stopped_at: torch.Tensor
    reason: torch.Tensor
    best_x: torch.Tensor
    best_iou: torch.Tensor
    best_l2: torch.Tensor
    best_iteration: torch.Tensor

    @classmethod
    def start(cls, x0: torch.Tensor, iterations: int) -> "_BatchState":
        batch, device = x0.shape[0], x0.device
        return cls(
            active=torch.ones(batch, dtype=torch.bool, device=device),
            stopped_at=torch.full((batch,), iterations, dtype=torch.long, device=device),
            reason=torch.zeros(batch, dtype=torch.long, device=device),
            best_x=x0.clone(),
            best_iou=torch.full((batch,), -1.0, device=device),
            best_l2=torch.full((batch,), math.inf, device=device),
            best_iteration=torch.zeros(batch, dtype=torch.long, device=device),
        )

    def retire(self, items: torch.Tensor, iteration: int, reason: str | torch.Tensor) -> None:
        """Stop ``items`` at ``iteration``; ``reason`` is one of _REASONS, or a tensor of their indices."""
        newly = self.active & items
        self.stopped_at = torch.where(newly, iteration, self.stopped_at)
        self.reason = torch.where(newly, _REASONS.index(reason) if isinstance(reason, str) else reason, self.reason)
        self.active = self.active ^ newly  # active and not retired now

    def remember_best(self, x: torch.Tensor, iou: torch.Tensor, l2: torch.Tensor, iteration: int,
                      scored: torch.Tensor) -> None:
        """``scored``: the items whose output was finite; another's IoU is that of argmax(NaN)."""
        better = self.active & scored & ((iou > self.best_iou) | ((iou == self.best_iou) & (l2 < self.best_l2)))
        self.best_x = torch.where(better.view(-1, 1, 1, 1), x, self.best_x)
        self.best_iou = torch.where(better, iou, self.best_iou)
        self.best_l2 = torch.where(better, l2, self.best_l2)
        self.best_iteration = torch.where(better, iteration, self.best_iteration)


def run_attack(
    adapter: ModelAdapter,
    image: np.ndarray,
    target: np.ndarray,
    attack: Attack,
    *,
    region: np.ndarray | None = None,
    on_snapshot: SnapshotCallback | None = None,
    snapshot_interval: float = 0.05,
    control: AttackControl | None = None,
    check_every: int = 25,
) -> AttackResult:
    """Attack one image (``H x W x C`` float in [0, 1]) towards ``target`` (``H x W`` class ids).

    Raises :class:`AttackInterrupted`, holding the partial result, when the model fails mid-run.
    """
    regions = None if region is None else [region]
    return run_batch(
        adapter, [image], [target], attack, regions=regions, on_snapshot=on_snapshot,
        snapshot_interval=snapshot_interval, control=control, check_every=check_every,
    )[0]


def run_batch(
    adapter: ModelAdapter,
    images: Sequence[np.ndarray],
    targets: Sequence[np.ndarray],
    attack: Attack,
    *,
    regions: Sequence[np.ndarray | None] | None = None,
    on_snapshot: SnapshotCallback | None = None,
    snapshot_interval: float = 0.05,
    control: AttackControl | None = None,
    check_every: int = 25,
) -> list[AttackResult]:
    """Attack equally sized images at once, each towards its own target, with its own stop state.

    Raises :class:`AttackInterrupted`, holding the partial results, when the model fails mid-run.
    """
    x0, target_grid, region_mask, grid = prepare_batch(adapter, images, targets, regions)
    with torch.enable_grad():
        outcome = _AttackLoop(adapter, attack, x0, target_grid, region_mask, on_snapshot, snapshot_interval,
                              control, check_every).run()
    if outcome.failure is None:
        return _collect_results(adapter, attack, images, targets, regions, grid, x0, target_grid, outcome)
    iteration, cause = outcome.failure
    try:  # scoring the kept iterates runs the model again; it may fail there too
        partial = _collect_results(adapter, attack, images, targets, regions, grid, x0, target_grid, outcome)
    except Exception:
        log.warning("the kept iterates could not be scored after the model failed", exc_info=True)
        partial = []
    raise AttackInterrupted(iteration, cause, partial) from cause


def prepare_batch(adapter, images, targets, regions):
    """Images, output-grid targets and regions as device tensors, checked against each other."""
    if len(images) != len(targets) or not images:
        raise ValueError("give one target per image (and at least one image)")
    shapes = {np.asarray(image).shape for image in images}
    if len(shapes) != 1:
        raise ValueError(f"images in one batch must share a shape, got {sorted(shapes)}")
    height, width = np.asarray(images[0]).shape[:2]
    for index, target in enumerate(targets):
        target = np.asarray(target)
        if target.shape != (height, width):
            raise ValueError(f"target {index} is {target.shape[0]}x{target.shape[1]} but the image is {height}x{width}")
        if target.size and (target.min() < 0 or target.max() >= adapter.num_classes):
            raise ValueError(f"target {index} holds class ids outside 0..{adapter.num_classes - 1}")
    x0 = torch.cat([adapter.to_device(image) for image in images]).contiguous(memory_format=adapter.memory_format)
    grid = adapter.output_grid(height, width)
    target_grid = torch.stack([torch.as_tensor(grid.crop(np.asarray(t)).astype(np.int64)) for t in targets])
    target_grid = target_grid.to(adapter.device)
    region_mask = None
    if regions is not None and any(region is not None for region in regions):
        masks = [np.ones((height, width), bool) if r is None else np.asarray(r, bool) for r in regions]
        for index, mask in enumerate(masks):
            if mask.shape != (height, width):
                raise ValueError(f"region {index} is {mask.shape} but the image is {height}x{width}")
        region_mask = torch.as_tensor(np.stack(masks)[:, None], dtype=torch.float32, device=adapter.device)
    return x0, target_grid, region_mask, grid


@dataclass
class _LoopOutcome:
    x: torch.Tensor
    state: _BatchState
    history: np.ndarray  # rows x columns x items
    seconds: np.ndarray
    last_row: int
    quantized_from: int
    elapsed: float
    user_stopped: bool
    failure: tuple[int, Exception] | None = None  # (iteration, the model's exception)


@dataclass(frozen=True)
class _Evaluation:
    """One iterate as the model saw it: what the records and the step need."""

    x_leaf: torch.Tensor  # x_n, the leaf the input gradient is taken at
    x_eval: torch.Tensor  # x_n as the model saw it (on the 8-bit grid once quantizing)
    inputs: StepInputs
    scores: dict[str, torch.Tensor]
    loss: torch.Tensor  # [B], to ascend
    multiplier: torch.Tensor  # [B], the step's tau_n, alpha or gamma
    scored: torch.Tensor  # [B] bool: the output was finite, so the scores mean something


class _AttackLoop:
    """The loop itself, kept apart from input preparation and result collection.

    Per iteration n, as the papers write it: evaluate x_n (forward, prediction, scores, the
    method's loss J), record it (history row, best iterate, items that are done), take the
    input gradient of J, and step the items still running to x_{n+1} (step, projection,
    region, [0, 1]). Everything stays on the device; the host looks only when a snapshot is
    due or every ``check_every`` rows, to see whether any item still runs.
    """

    def __init__(self, adapter, attack, x0, target, region, on_snapshot, snapshot_interval, control, check_every):
        self.adapter = adapter
        self.attack = attack
        self.config = attack.config
        self.x0 = x0
        self.target = target
        self.target_one_hot = F.one_hot(target, adapter.num_classes).permute(0, 3, 1, 2).float()
        self.target_codes = target_codes(target, adapter.num_classes)
        self.region = region
        self.on_snapshot = on_snapshot
        self.snapshot_interval = snapshot_interval
        self.control = control
        self.check_every = max(1, check_every)
        self.quantized_from = self.config.quantized_from

    def constrain(self, x: torch.Tensor) -> torch.Tensor:
        """Projection, perturbation region and the [0, 1] box, in that order."""
        x = self.attack.project(x, self.x0)
        if self.region is not None:
            x = self.x0 + (x - self.x0) * self.region
        return x.clamp(0, 1)

    def run(self) -> _LoopOutcome:
        iterations = self.config.iterations
        self.adapter.apply_backend_settings()
        self.history = torch.zeros(iterations + 1, len(HISTORY_COLUMNS), self.x0.shape[0], device=self.x0.device)
        self.seconds = np.zeros(iterations + 1)
        self.state = _BatchState.start(self.x0, iterations)
        self.x = self.previous_x = self.constrain(self.attack.start(self.x0, self.config.seed)).detach()
        self.started = self.last_snapshot = time.perf_counter()
        self.user_stopped, self.failure = False, None
        row = 0
        for row in range(iterations + 1):
            if self.control is not None:
                self.control.wait_while_paused()
                self.user_stopped = self.control.stop_requested
            final_row = row == iterations or self.user_stopped
            evaluation = self._evaluate(row, needs_gradient=not final_row)
            if evaluation is None:  # the model failed on x_row: keep x_0 .. x_{row-1}
                row -= 1
                break
            self._record(row, evaluation)
            if final_row:
                self.state.retire(~evaluation.scored, row, "non-finite output")
                break
            gradient = self._input_gradient(row, evaluation)
            if gradient is None:  # the backward pass failed: x_row is scored, keep it
                break
            self._step(evaluation, gradient)
            if self._report(row, evaluation):
                break
        return self._finish(row)

    def _evaluate(self, row: int, needs_gradient: bool) -> _Evaluation | None:
        """Forward pass at x_row, its scores against the target and the method's loss; None when
        the model raised (``self.failure``; x goes back to x_{row-1})."""
        x_leaf = self.x.detach().requires_grad_(needs_gradient)
        # Straight-through 8-bit rounding: the model sees the PNG's pixels, steps accumulate in float.
        x_eval = x_leaf + (self.attack.quantize(x_leaf, self.x0) - x_leaf).detach() if row >= self.quantized_from \
            else x_leaf
        try:
            logits = self.adapter.logits(x_eval)
        except Exception as error:
            if is_out_of_memory(error):
                raise
            self.failure, self.x = (row, error), self.previous_x
            return None
        prediction = class_ids(logits)
        scores = segmentation_scores(prediction, self.target, self.adapter.num_classes, self.target_codes)
        inputs = StepInputs(row, logits, prediction, self.target, self.target_one_hot, x_eval, self.x0, scores["iou"])
        loss, multiplier = self.attack.objective(inputs)
        # Every method's loss reads every logit (a NaN takes the argmax and the masks multiply it),
        # so a NaN or infinite output makes it non-finite: then the row is not scored.
        loss_value = loss.detach()
        scored = (loss_value - loss_value) == 0  # v - v is +0 for a finite v, NaN for inf or NaN
        return _Evaluation(x_leaf, x_eval, inputs, scores, loss, multiplier, scored)

    def _record(self, row: int, evaluation: _Evaluation) -> None:
        """The history row, the best iterate, and the items that are done: stop IoU, the method's
        own rule (checked only on the 8-bit grid once quantizing)."""
        scores, scored, state = evaluation.scores, evaluation.scored, self.state
        l2, linf = difference_norms(evaluation.inputs.perturbation)
        torch.stack([scores["iou"], scores["pixel_accuracy"], scores["dice"], l2, linf,  # written in place
                     evaluation.loss.detach().float(), evaluation.multiplier.detach().float()], out=self.history[row])
        self.seconds[row] = time.perf_counter() - self.started
        if row == self.quantized_from:  # from here on, the best iterate is one an 8-bit PNG can hold
            state.best_iou.fill_(-1.0)
        state.remember_best(evaluation.x_eval.detach(), scores["iou"], l2, row, scored)
        # An output that is NaN or infinite scores nothing: the item ends on its previous iterate
        # (retired with the gradient check, or on the last row by ``run``).
        self.x = torch.where(scored.view(-1, 1, 1, 1), self.x, self.previous_x)
        if not self.config.quantize or row >= self.quantized_from:
            if self.config.stop_iou is not None:
                state.retire((scores["iou"] >= self.config.stop_iou) & scored, row, "stop_iou")
            finished = self.attack.finished(evaluation.inputs)
            if finished is not None:
                state.retire(finished & scored, row, "finished")

    def _input_gradient(self, row: int, evaluation: _Evaluation) -> torch.Tensor | None:
        """grad_x J at x_row; items whose gradient (or output) is not finite retire here. None when
        the backward pass raised (``self.failure``; x_row is scored and kept)."""
        try:
            (gradient,) = torch.autograd.grad(evaluation.loss.sum(), evaluation.x_leaf)
        except Exception as error:
            if is_out_of_memory(error):
                raise
            self.failure = (row, error)
            return None
        # Finite iff its largest magnitude is (NaN propagates): two reductions, not isfinite over the image.
        largest = max_abs(gradient)
        finite = evaluation.scored & ((largest - largest) == 0)
        reason = torch.where(evaluation.scored, _REASONS.index("non-finite"), _REASONS.index("non-finite output"))
        self.state.retire(~finite, row, reason)  # its NaN stays in its own item and is never stepped to
        return gradient

    def _step(self, evaluation: _Evaluation, gradient: torch.Tensor) -> None:
        """x_{n+1} = constrain(step(x_n, grad, multiplier)) for the items still running."""
        if self.region is not None:
            # Step rules that normalise the gradient (DAG, L2 PGD) see only the pixels they may change.
            gradient = gradient * self.region
        stepped = self.constrain(self.attack.step(self.x, gradient, evaluation.multiplier.detach())).detach()
        self.previous_x, self.x = self.x, torch.where(self.state.active.view(-1, 1, 1, 1), stepped, self.x)

    def _report(self, row: int, evaluation: _Evaluation) -> bool:
        """A snapshot when one is due; True once no item runs (asked of the device only now and then)."""
        now = time.perf_counter()
        # The start is always shown, so a replay begins at x_0 however fast the first step was.
        due = self.on_snapshot is not None and (row == 0 or now - self.last_snapshot >= self.snapshot_interval)
        if due:
            self._emit(evaluation.x_eval, evaluation.inputs.prediction, row, now - self.started, final=False)
            self.last_snapshot = time.perf_counter()
        return (due or row % self.check_every == 0) and not bool(self.state.active.any())

    def _finish(self, row: int) -> _LoopOutcome:
        """The last iterate (on the 8-bit grid if the run quantized), the final snapshot, the outcome."""
        failure, state = self.failure, self.state
        if failure is not None and row < 0:
            raise AttackInterrupted(failure[0], failure[1], []) from failure[1]
        if self.x0.device.type == "cuda":
            torch.cuda.synchronize(self.x0.device)
        elapsed = time.perf_counter() - self.started
        final_x = self.attack.quantize(self.x, self.x0) if row >= self.quantized_from else self.x
        if self.on_snapshot is not None and failure is None:  # after a failure the results carry the end
            # The first item's own end: it may have stopped (stop IoU) a few rows before the loop did,
            # and a row whose output was NaN is not part of it.
            shown_row = _last_kept_row(min(row, int(state.stopped_at[0])), _REASONS[int(state.reason[0])])
            with torch.no_grad():
                self._emit(final_x, self.adapter.predict(final_x), shown_row, elapsed, final=True)
        return _LoopOutcome(final_x, state, self.history[: row + 1].cpu().numpy(), self.seconds[: row + 1], row,
                            self.quantized_from, elapsed, self.user_stopped, failure)

    def _emit(self, x, prediction, row, elapsed, final):
        rows = self.history[: row + 1, :, 0].detach().cpu().numpy()
        columns = {name: rows[:, index].copy() for index, name in enumerate(HISTORY_COLUMNS)}
        columns["iteration"] = np.arange(row + 1)
        columns["seconds"] = self.seconds[: row + 1].copy()
        self.on_snapshot(Snapshot(
            iteration=row,
            total_iterations=self.config.iterations,
            adversarial=x[0].detach().permute(1, 2, 0).float().cpu().numpy().copy(),
            prediction=prediction[0].detach().to(torch.uint8).cpu().numpy().copy(),
            history=columns,
            elapsed=elapsed,
            final=final,
        ))


def final_scores(adapter, x, x0, target) -> tuple[list[dict], torch.Tensor]:
    """Per-item final metrics (with PSNR, SSIM and per-class IoU) and the prediction."""
    with torch.no_grad():
        prediction = adapter.predict(x)
        scores = segmentation_scores(prediction, target, adapter.num_classes)
        l2, linf = perturbation_norms(x, x0)
        peak = psnr(x, x0)
        similarity = ssim(x, x0)
    records = []
    for item in range(x.shape[0]):
        records.append({
            "iou": float(scores["iou"][item]),
            "pixel_accuracy": float(scores["pixel_accuracy"][item]),
            "dice": float(scores["dice"][item]),
            "l2": float(l2[item]),
            "linf": float(linf[item]),
            "psnr": float(peak[item]),
            "ssim": float(similarity[item]),
            "per_class_iou": {name: float(v) for name, v in zip(adapter.class_names, scores["per_class_iou"][item])},
        })
    return records, prediction


def _collect_results(adapter, attack, images, targets, regions, grid, x0, target_grid, outcome) -> list[AttackResult]:
    state = outcome.state
    stopped_at = torch.clamp(state.stopped_at, max=outcome.last_row).cpu().numpy()
    reasons = state.reason.cpu().numpy()
    still_active = state.active.cpu().numpy()
    final, final_prediction = final_scores(adapter, outcome.x, x0, target_grid)
    quantized_x = attack.quantize(outcome.x, x0)  # the PNG's pixels, inside the method's budget
    final_quantized, quantized_prediction = final_scores(adapter, quantized_x, x0, target_grid)
    best, _ = final_scores(adapter, state.best_x, x0, target_grid)
    with torch.no_grad():
        original_prediction = adapter.predict(x0)
    best_iterations = state.best_iteration.cpu().numpy()
    results = []
    for item in range(x0.shape[0]):
        last = int(stopped_at[item])
        reason = "user" if still_active[item] and outcome.user_stopped else _REASONS[int(reasons[item])]
        output_failed_at = None
        if reason == "non-finite output":  # reported as "non-finite", with the row that failed named
            output_failed_at, last, reason = last, _last_kept_row(last, reason), "non-finite"
        if still_active[item] and outcome.failure is not None:
            reason = MODEL_ERROR
        rows = outcome.history[: last + 1, :, item]
        history = {name: rows[:, index].astype(np.float64) for index, name in enumerate(HISTORY_COLUMNS)}
        history["iteration"] = np.arange(last + 1)
        history["seconds"] = outcome.seconds[: last + 1].copy()
        error = None
        if reason == "non-finite" and (output_failed_at == 0 or (output_failed_at is None and last == 0)):
            error = "the model's output or its gradient is NaN or infinite on the clean image: nothing to attack"
        elif output_failed_at == 1:
            error = "the model's output became NaN or infinite at iteration 1: only the start was left"
        elif output_failed_at is not None:
            error = (f"the model's output became NaN or infinite at iteration {output_failed_at}; "
                     f"kept the iterates up to iteration {last}")
        elif reason == "non-finite":
            error = f"the gradient became NaN or infinite at iteration {last}; kept the iterates up to it"
        elif reason == MODEL_ERROR:
            failed_at, cause = outcome.failure
            error = (f"the model raised {type(cause).__name__} at iteration {failed_at}; "
                     f"kept the iterates up to iteration {last}")
        results.append(AttackResult(
            method=attack.name,
            config=attack.config.as_dict(),
            original=np.asarray(images[item], dtype=np.float32).reshape(x0.shape[2], x0.shape[3], -1),
            adversarial=to_image(outcome.x[item]),
            adversarial_8bit=to_image(quantized_x[item]),
            best_adversarial=to_image(state.best_x[item]),
            target=np.asarray(targets[item]),
            region=None if regions is None or regions[item] is None else np.asarray(regions[item], bool),
            grid=grid,
            class_names=tuple(adapter.class_names),
            prediction_original=original_prediction[item].to(torch.uint8).cpu().numpy(),
            prediction_adversarial=final_prediction[item].to(torch.uint8).cpu().numpy(),
            prediction_quantized=quantized_prediction[item].to(torch.uint8).cpu().numpy(),
            history=history,
            final=final[item],
            final_quantized=final_quantized[item],
            best={"iteration": int(best_iterations[item]), **best[item]},
            iterations_run=last,
            seconds=outcome.elapsed,
            device=str(adapter.device),
            seed=attack.config.seed,
            stop_reason=reason,
            error=error,
            precision=adapter.precision,
        ))
    return results


def to_image(tensor: torch.Tensor) -> np.ndarray:
    """One ``C x H x W`` image of a batch as the ``H x W x C`` float32 array results hold."""
    return tensor.detach().permute(1, 2, 0).float().cpu().numpy().copy()
