"""Hand-set models whose logits are simple functions of the input, for exact checks."""

from __future__ import annotations

import torch
from torch import nn


class ThresholdModel(nn.Module):
    """Two-class 1x1 convolution: z0 = 0.5 - x, z1 = x - 0.5 on a one-channel image."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(1, 2, kernel_size=1)
        with torch.no_grad():
            self.conv.weight.copy_(torch.tensor([-1.0, 1.0]).view(2, 1, 1, 1))
            self.conv.bias.copy_(torch.tensor([0.5, -0.5]))

    def forward(self, x):
        return self.conv(x)


class ValidThresholdModel(ThresholdModel):
    """Like :class:`ThresholdModel` but trims ``border`` pixels on each side, like valid convolutions."""

    def __init__(self, border: int = 2):
        super().__init__()
        self.border = border

    def forward(self, x):
        b = self.border
        return super().forward(x)[..., b:-b, b:-b]


class DenseTissueModel(nn.Module):
    """Takes raw CT values (HU): one logit (HU - 100) / 50, smoothed over 3 x 3, so "dense" (class 1)
    is tissue above about 100 HU. With sidecar ``"input_units": "raw"`` it sees the file's own HU."""

    def __init__(self):
        super().__init__()
        self.smooth = nn.Conv2d(1, 1, 3, padding=1, bias=False)
        with torch.no_grad():
            self.smooth.weight.fill_(1 / 9)

    def forward(self, hu):
        return self.smooth((hu - 100.0) / 50.0)
