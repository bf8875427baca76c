"""Several models attacked as one, to craft adversarials that transfer.

:class:`EnsembleAdapter` gives the runner the mean of its members' logits (each member with its own
normalisation, padding and output crop). The methods' objectives are linear in the logits
(ASMA's masked logit sum, DAG's logit differences) or read them through a margin, so on the mean
logits they are the mean of the members' objectives; for cross-entropy (the PGD family) the mean
logits are the logit ensemble of Liu et al. (ICLR 2017) and Dong et al. (CVPR 2018), whose
cross-entropy is the members' mean up to a log-sum-exp term that vanishes as they agree.
"""

from __future__ import annotations

from typing import Sequence

import torch

from .models import ModelAdapter, OutputGrid


class EnsembleAdapter(ModelAdapter):
    """The mean of ``members``' logits, behind the adapter interface the runner uses."""

    def __init__(self, members: Sequence[ModelAdapter]):
        if len(members) < 2:
            raise ValueError("an ensemble needs at least two models")
        first = members[0]
        for member in members[1:]:
            if member.num_classes != first.num_classes:
                raise ValueError(f"the ensemble's models disagree on the classes: {first.num_classes} and "
                                 f"{member.num_classes}")
            if member.device != first.device:
                raise ValueError("the ensemble's models must be on one device")
        self.members = list(members)
        self.spec = first.spec
        self.device = first.device
        self.precision = first.precision
        self.channels_last = first.channels_last
        self.model = first.model

    @property
    def last_output_rule(self) -> str | None:
        """How each member's output met the image, for summary.json."""
        rules = [member.last_output_rule for member in self.members]
        return None if not any(rules) else "; ".join(f"model {index + 1}: {rule}" for index, rule in enumerate(rules))

    def output_rule(self, image_height: int, image_width: int) -> str:
        """How the image reaches each member and its output returns to the image grid."""
        return "; ".join(f"model {index + 1}: {member.output_rule(image_height, image_width)}"
                         for index, member in enumerate(self.members))

    @property
    def input_range(self) -> tuple[float, float]:
        """What [0, 1] stands for in the image's own values: one image feeds every member."""
        return self.members[0].input_range

    @input_range.setter
    def input_range(self, value: tuple[float, float]) -> None:
        for member in self.members:
            member.input_range = value

    def output_grid(self, image_height: int, image_width: int) -> OutputGrid:
        grids = {member.output_grid(image_height, image_width) for member in self.members}
        if len(grids) > 1:
            raise ValueError(f"the ensemble's models predict on different parts of a {image_height}x{image_width} "
                             "image (valid convolutions crop differently); use models with one output grid")
        return grids.pop()

    def logits(self, images: torch.Tensor) -> torch.Tensor:
        return torch.stack([member.logits(images) for member in self.members]).mean(0)

    def apply_backend_settings(self) -> None:
        self.members[0].apply_backend_settings()

    def expected_channels(self, image_channels: int) -> int:
        return self.members[0].expected_channels(image_channels)

    def on_cpu(self, rebuild) -> "EnsembleAdapter":
        """The same ensemble with every member rebuilt on the CPU by ``rebuild`` (the fallback's)."""
        return EnsembleAdapter([rebuild(member) for member in self.members])
