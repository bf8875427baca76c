"""Gather one attack's inputs from the document and the panel, or say why not.

Everything is checked here, in the GUI thread, before a thread starts, so a bad
parameter or a missing input is one message in a dialog rather than a failed run.
"""

from __future__ import annotations

from dataclasses import replace

from ...core.attacks import create_attack
from ...core.attacks.base import ParameterError
from ...core.attacks.step_size import is_auto, resolve_auto_step, without_auto
from ...core.models import ModelOutputError
from ...errors import SegAttackError, first_line
from ...workspace.display_grid import DisplayGrid
from ..document import AttackDocument, RunRecord
from .attack_worker import AttackJob


def prepare_run(document: AttackDocument, method: str, parameters: dict) -> tuple[AttackJob, RunRecord]:
    """The document's target and region (as painted: the canvas binding keeps them in step) and the
    panel's method and parameters, as a job for the worker and a record of the run."""
    missing = document.missing_inputs()
    if missing:
        raise SegAttackError(None, missing)
    image, model = document.image, document.model
    try:
        grid = model.adapter.output_grid(image.height, image.width)
    except (ModelOutputError, RuntimeError) as error:
        raise SegAttackError(model.path, first_line(error) or type(error).__name__) from None
    target, region = document.target.copy(), document.region  # None: every pixel may change
    if region is not None and region.all():
        region = None
    if region is not None and not region.any():
        raise SegAttackError(None, "the perturbation region is empty: paint where pixels may change")
    provenance = document.provenance()
    if is_auto(parameters.get("tau")):  # the form always holds a beta; auto sets it (beta = 10 tau)
        parameters = {name: value for name, value in parameters.items() if name != "beta"}
    try:
        create_attack(method, **without_auto(parameters))  # every other value checked before the gradient
        parameters, step_rule = resolve_auto_step(model.adapter, method, parameters, image.pixels, target, region)
        attack = create_attack(method, **parameters)
    except ParameterError as error:  # named as the panel labels it
        raise SegAttackError(None, f"{error.name.replace('_', ' ')} {error.problem}") from None
    except ValueError as error:
        raise SegAttackError(None, str(error)) from None
    if step_rule is not None:  # summary.json records "auto" beside the values it gave
        provenance = replace(provenance, extra={**provenance.extra, "step_size": step_rule.record()})
    display = DisplayGrid.for_image(image.height, image.width)
    record = RunRecord(method, attack.config.as_dict(), str(model.adapter.device), image.pixels, target.copy(),
                       grid, document.colors, provenance, display, precision=model.adapter.precision)
    return AttackJob(model.adapter, image.pixels, target, attack, display, grid, region), record
