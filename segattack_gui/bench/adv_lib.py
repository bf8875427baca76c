"""adv-lib's ASMA as a timing baseline for ``segattack bench``, when adv-lib is installed.

The design notes (docs/design.md, Performance) ask that the engine be ahead of adv-lib's ``asma`` (``adv_lib.attacks.segmentation``,
the most widely used public re-implementation) at every setting. adv-lib is an optional
package: it is imported, never copied or vendored, and the bench says so when it is absent.
Both attacks run the same network through the same :class:`~segattack_gui.core.models.ModelAdapter`
(normalisation, precision, memory layout), on the same images and targets, for a fixed
number of steps (adv-lib's ASMA never stops early; it keeps the best iterate as it goes).
"""

from __future__ import annotations

from importlib import import_module
from importlib.metadata import PackageNotFoundError, version
from typing import Callable

import torch

from ..core.models import ModelAdapter

AdvLibAsma = Callable[..., torch.Tensor]


def load_adv_lib_asma() -> tuple[AdvLibAsma | None, str]:
    """adv-lib's ``asma`` and a label naming its version, or ``None`` and why it is not available."""
    try:
        module = import_module("adv_lib.attacks.segmentation")
    except Exception as error:  # noqa: BLE001 - a broken optional install must not stop the bench
        return None, (f"adv-lib not importable ({type(error).__name__}: {error}); in a source checkout, "
                      "`bash scripts/adv_lib_env.sh` installs it beside the project (docs/performance.md)")
    try:
        label = f"adv-lib {version('adv-lib')}"
    except PackageNotFoundError:
        label = "adv-lib"
    return module.asma, label


class AdapterModule(torch.nn.Module):
    """The adapter as the ``nn.Module`` adv-lib calls: [0, 1] images in, float32 logits out."""

    def __init__(self, adapter: ModelAdapter):
        super().__init__()
        self.adapter = adapter

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.adapter.logits(images)
