"""``--evaluate-on`` and ``--survival`` for ``attack`` and ``batch``: the rows they add to a run's
``summary.json`` (``evaluated_on``, keyed by model file name, and ``survival``) and to ``table.csv``."""

from __future__ import annotations

from pathlib import Path

from ..errors import SegAttackError
from ..io.evaluations import evaluated_on_entry, survival_entry
from ..io.model_files import LoadedModel, load_model
from ..io.survival import parse_survival


def survival_tokens(text: str) -> list[str]:
    try:
        return parse_survival(text)
    except ValueError as error:
        raise SegAttackError("--survival", str(error)) from None


def load_evaluation_models(paths: list[Path] | None, *, trust_model: bool, device, precision: str,
                           flag: str = "--evaluate-on") -> dict[str, LoadedModel]:
    """The ``--evaluate-on`` (or ``--ensemble``) models by file name (two files of one name would
    share a key: an error)."""
    models: dict[str, LoadedModel] = {}
    for path in paths or []:
        if path.name in models:
            raise SegAttackError(path, f"has the same file name as another {flag} model; rename one")
        try:
            models[path.name] = load_model(path, trust_pickle=trust_model, device=device, precision=precision)
        except ValueError as error:  # e.g. CUDA asked for but absent
            raise SegAttackError("--device", str(error)) from None
    return models


def check_targets_fit(models: dict[str, LoadedModel], target_path: Path, target) -> None:
    """Before any work: a target class another model lacks would make its scores meaningless."""
    for name, model in models.items():
        if target.size and int(target.max()) >= model.adapter.num_classes:
            raise SegAttackError(target_path, f"holds class {int(target.max())} but the --evaluate-on model {name} "
                                              f"has {model.adapter.num_classes} classes")


def extra_evaluations(result, models: dict[str, LoadedModel], survival: list[str], adapter,
                      input_range: tuple[float, float] | None) -> dict:
    """``evaluated_on`` (each other model on the float adversarial) and ``survival`` (the attacked model,
    ``adapter``, on the transformed adversarial), for ``summary.json``. The other models read the
    image's own values (``input_range``, ``io.inputs.value_range``) as the attacked one did."""
    extra: dict = {}
    if models:
        extra["evaluated_on"] = {name: evaluated_on_entry(model, result, input_range)
                                 for name, model in models.items()}
    if survival:
        extra["survival"] = [survival_entry(adapter, result, token) for token in survival]
    return extra


def with_ensemble(inputs, members: dict[str, LoadedModel]):
    """``inputs`` whose model is the ensemble of its own and ``members`` (``--ensemble``), and the
    members' provenance for ``summary.json``; unchanged inputs and ``None`` without members."""
    import dataclasses

    from ..core.ensemble import EnsembleAdapter
    from ..io.inputs import feed_image_units

    if not members:
        return inputs, None
    for member in members.values():  # every member reads the image's own values (a raw one: or says why not)
        feed_image_units(member, inputs.image)
    try:
        adapter = EnsembleAdapter([inputs.model.adapter, *(model.adapter for model in members.values())])
        adapter.output_grid(inputs.image.height, inputs.image.width)
    except ValueError as error:
        raise SegAttackError("--ensemble", str(error)) from None
    model = dataclasses.replace(inputs.model, adapter=adapter)
    return dataclasses.replace(inputs, model=model), [model.provenance() for model in members.values()]
