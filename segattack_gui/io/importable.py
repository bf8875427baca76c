"""Build a network by its import name (``"package.module:Callable"``) for a state dict.

Importing a module runs its code, so this is reached only with the user's consent, as for
a pickled model (``--trust-model``, the window's question). A library that is not installed
is one line naming the extra that brings it, when SegAttack knows one.
"""

from __future__ import annotations

import importlib
import re

from ..errors import SegAttackError, first_line

_IMPORT_NAME = re.compile(r"^[A-Za-z_]\w*(\.[A-Za-z_]\w*)*:[A-Za-z_]\w*(\.[A-Za-z_]\w*)*$")

EXTRAS = {
    "monai": "monai",
    "nnunetv2": "nnunet",
    "dynamic_network_architectures": "nnunet",
    "segmentation_models_pytorch": "smp",
    "transformers": "huggingface",
    "safetensors": "safetensors",
}
"""Top-level module -> the ``segattack[...]`` extra that installs it."""


def is_import_name(name: str) -> bool:
    """``package.module:Callable`` (the callable may be dotted: ``module:Class.from_config``)."""
    return bool(_IMPORT_NAME.match(name))


def import_library(module: str, source, purpose: str):
    """Import ``module`` or raise one line naming the extra to install."""
    try:
        return importlib.import_module(module)
    except ImportError as error:
        top = module.split(".")[0]
        if error.name is not None and error.name.split(".")[0] != top:
            raise SegAttackError(source, f"{purpose} needs {top}, which failed to import "
                                         f"({type(error).__name__}: {first_line(error)})") from None
        extra = EXTRAS.get(top)
        how = f'pip install "segattack[{extra}]"' if extra else f"install {top}"
        raise SegAttackError(source, f"{purpose} needs the {top} library, which is not installed: {how}") from None
    except Exception as error:  # a library that is installed but broken (e.g. a CUDA-only build)
        raise SegAttackError(source, f"{purpose} needs {top_name(module)}, which failed to import "
                                     f"({type(error).__name__}: {first_line(error)})") from None


def top_name(module: str) -> str:
    return module.split(".")[0]


def resolve_import_name(name: str, source):
    """The callable that ``package.module:Callable`` names (imports the module: needs consent)."""
    module_name, _, attribute_path = name.partition(":")
    target = import_library(module_name, source, f'the "architecture" {name!r}')
    for attribute in attribute_path.split("."):
        try:
            target = getattr(target, attribute)
        except AttributeError:
            raise SegAttackError(source, f'the "architecture" {name!r}: {module_name} has no {attribute_path}') from None
    if not callable(target):
        raise SegAttackError(source, f'the "architecture" {name!r} is not callable')
    return target
