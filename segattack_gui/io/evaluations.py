"""A run's adversarial judged by another model, as ``summary.json`` records it (``evaluated_on``).

The CLI's ``--evaluate-on`` and the window's "Evaluate on another model" write the same entry:
the scores of :func:`..core.reevaluation.evaluate_adversarial`, which file gave them (its path,
SHA-256 and kind), so a transfer claim names the exact model it was measured on, and the signs
that this model may be fed otherwise than it was trained (:mod:`..core.misfeed`): a transfer
number from a misfed model is noise that looks like a finding.
"""

from __future__ import annotations

from ..core.misfeed import misfeed_warnings
from ..core.reevaluation import evaluate_adversarial
from ..errors import SegAttackError
from .inputs import feed_value_range
from .model_files import LoadedModel
from .survival import survival_transform

MODEL_FIELDS = ("model_path", "model_sha256", "model_kind")


def evaluated_on_entry(model: LoadedModel, result, input_range: tuple[float, float] | None) -> dict:
    """``model``'s scores of ``result``'s float adversarial against the target and against its own
    clean prediction, with the model file's identity; one line naming the file when it cannot judge
    it (a target class it lacks, an image it cannot take).

    ``input_range``: what the image's [0, 1] stands for in its own values (HU for a CT,
    ``io.inputs.value_range``), which a model on raw values must read, as the attacked one did;
    None where unknown."""
    feed_value_range(model, input_range, model.path)
    try:
        scores = evaluate_adversarial(model.adapter, result.adversarial, result.original, result.target)
        warnings = misfeed_warnings(model.adapter, result.original, result.target)
    except (ValueError, RuntimeError) as error:
        raise SegAttackError(model.path, f"cannot judge this adversarial: {error}") from None
    identity = model.provenance()
    return {**scores, **{key: identity[key] for key in MODEL_FIELDS}, "warnings": list(warnings)}


def survival_entry(adapter, result, token: str) -> dict:
    """The attacked model (``adapter``) on ``result``'s adversarial after the transform ``token``
    (``png8``, ``jpeg75`` ...): a ``survival`` row of ``summary.json``."""
    transformed = survival_transform(token)(result.adversarial)
    return {"transform": token, **evaluate_adversarial(adapter, transformed, result.original, result.target)}
