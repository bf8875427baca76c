"""Gather one attack's inputs from the document and the panel, or say why not.

Everything is checked here, in the GUI thread, before a thread starts, so a bad
parameter or a missing input is one message in a dialog rather than a failed run.
"""

from __future__ import annotations

import numpy as np

from ...core.attacks import create_attack
from ...core.attacks.base import ParameterError
from ...core.attacks.step_size import is_auto, without_auto
from ...core.models import ModelOutputError
from ...errors import SegAttackError, first_line
from ...io.inputs import feed_image_units
from ...workspace.display_grid import DisplayGrid
from ..document import AttackDocument, RunRecord
from .attack_worker import AttackJob


def prepare_run(document: AttackDocument, method: str, parameters: dict) -> tuple[AttackJob, RunRecord]:
    """The document's target and region (the canvas paints those very arrays) and the panel's method
    and parameters, as a job for the worker and a record of the run: its own copies of the inputs
    and of where they came from, which the results pane and Export read from then on."""
    missing = document.missing_inputs()
    if missing:
        raise SegAttackError(None, missing)
    if is_auto(parameters.get("tau")):  # the form always holds a beta; auto sets it (beta = 10 tau)
        parameters = {name: value for name, value in parameters.items() if name != "beta"}
    # tau "auto" (docs/step-size.md) needs the first gradient: the worker computes it, off this thread;
    # the rest is checked here, before any model work
    auto_parameters = parameters if is_auto(parameters.get("tau")) else None
    attack = _checked(lambda: create_attack(method, **without_auto(parameters)))
    image, model = document.image, document.model
    feed_image_units(model, image)  # a model on raw values reads this image's range
    attack.grid_levels = image.export_levels  # --quantize steps on the grid the image's own format holds
    try:
        grid = model.adapter.output_grid(image.height, image.width)
    except (ModelOutputError, RuntimeError) as error:
        raise SegAttackError(model.path, first_line(error) or type(error).__name__) from None
    target, region = document.target.copy(), document.region  # region None: every pixel may change
    beyond = sorted(int(label) for label in np.unique(target) if label >= model.adapter.num_classes)
    if beyond:
        names = ", ".join(f"{label} ({document.class_names[label]})" if label < len(document.class_names) else str(label)
                          for label in beyond)
        raise SegAttackError(None, f"the target holds label {names}, but the model has only "
                                   f"{model.adapter.num_classes} classes (0..{model.adapter.num_classes - 1}): "
                                   "erase it or paint a class of the model")
    if region is not None and region.all():
        region = None
    provenance = document.provenance(region_used=region is not None)
    display = DisplayGrid.for_image(image.height, image.width)
    record = RunRecord(method, attack.config.as_dict(), str(model.adapter.device), image.pixels, target.copy(),
                       grid, document.colors, provenance, display,
                       precision=model.adapter.precision, region=None if region is None else region.copy(),
                       inputs=document.current_inputs())
    return AttackJob(model.adapter, image.pixels, target, attack, display, grid, region, auto_parameters), record


def _checked(build):
    """``build()``, a bad parameter named as the panel labels it."""
    try:
        return build()
    except ParameterError as error:
        raise SegAttackError(None, f"{error.name.replace('_', ' ')} {error.problem}") from None
    except ValueError as error:
        raise SegAttackError(None, str(error)) from None
