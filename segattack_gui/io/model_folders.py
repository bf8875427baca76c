"""Model folders as libraries save them: which library, and the loader that reads it.

An nnU-Net v2 trained-model folder (``plans.json``, ``dataset.json``, ``fold_N/``), a MONAI
bundle (``configs/inference.json`` + ``models/``), and a ``save_pretrained`` folder of
segmentation_models_pytorch or Hugging Face (``config.json`` + weights). Each loader lives
in its own module and imports its library only when such a folder is opened.
"""

from __future__ import annotations

from pathlib import Path

from ..errors import SegAttackError


def folder_kind(path: Path) -> str:
    """``nnunet``, ``monai_bundle`` or ``pretrained``; any other folder is one line saying what loads."""
    if (path / "plans.json").is_file() and (path / "dataset.json").is_file():
        return "nnunet"
    if any((path / "configs" / name).is_file() for name in ("inference.json", "inference.yaml", "inference.yml")):
        return "monai_bundle"
    if (path / "config.json").is_file() and any(
            (path / name).is_file() for name in ("model.safetensors", "pytorch_model.bin")):
        return "pretrained"
    raise SegAttackError(path, "is a folder, but not a model folder SegAttack reads: an nnU-Net trained-model folder "
                               "(plans.json, dataset.json, fold_N/), a MONAI bundle (configs/inference.json, "
                               "models/model.pt) or a save_pretrained folder (config.json, model.safetensors)")


def is_nnunet_checkpoint(contents) -> bool:
    """An nnU-Net ``checkpoint_*.pth``: its weights, trainer and the plans it was trained with."""
    return isinstance(contents, dict) and isinstance(contents.get("network_weights"), dict) and isinstance(
        contents.get("init_args"), dict) and "trainer_name" in contents


def load_nnunet(path, spec, fold):
    from .nnunet_folder import load_nnunet as load

    return load(path, spec, fold)


def nnunet_consent_reason(path) -> str | None:
    from .nnunet_folder import consent_reason

    return consent_reason(path)


def load_bundle(path, spec):
    from .monai_bundle import load_bundle as load

    return load(path, spec)


def bundle_consent_reason(path) -> str | None:
    from .monai_bundle import consent_reason

    return consent_reason(path)


def load_pretrained_folder(path, spec):
    from .pretrained_folders import load_pretrained_folder as load

    return load(path, spec)
