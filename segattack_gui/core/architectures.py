"""Built-in segmentation architectures that a state dict can name in its sidecar.

``unet``: the valid-convolution U-Net of Ronneberger et al. (2015) with the channel
widths the ASMA paper used (32-64-128-256-512, 3 input channels, 2 classes). With
unpadded 3x3 convolutions a 572 x 572 input gives a 388 x 388 output whose grid is
centred in the input. Sub-module names follow the paper authors' model so that
their state dicts load unchanged.

``padded_unet``: a small same-size U-Net (padding 1, batch norm) used by the demo
models; output grid equals the input grid.
"""

from __future__ import annotations

import torch
from torch import nn


def _double_conv(in_channels: int, out_channels: int, padding: int, norm: bool) -> nn.Sequential:
    layers: list[nn.Module] = []
    for channels_in in (in_channels, out_channels):
        layers.append(nn.Conv2d(channels_in, out_channels, kernel_size=3, padding=padding, bias=not norm))
        if norm:
            layers.append(nn.BatchNorm2d(out_channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def _centre_crop(features: torch.Tensor, height: int, width: int) -> torch.Tensor:
    top = (features.shape[-2] - height) // 2
    left = (features.shape[-1] - width) // 2
    return features[..., top : top + height, left : left + width]


class ValidUNet(nn.Module):
    """The paper's U-Net: four poolings, unpadded convolutions, skip features centre-cropped."""

    def __init__(self, in_channels: int = 3, num_classes: int = 2, widths=(32, 64, 128, 256, 512)):
        super().__init__()
        w1, w2, w3, w4, w5 = widths
        self.conv1_block = _double_conv(in_channels, w1, 0, norm=False)
        self.conv2_block = _double_conv(w1, w2, 0, norm=False)
        self.conv3_block = _double_conv(w2, w3, 0, norm=False)
        self.conv4_block = _double_conv(w3, w4, 0, norm=False)
        self.conv5_block = _double_conv(w4, w5, 0, norm=False)
        self.max1 = nn.MaxPool2d(2)
        self.max2 = nn.MaxPool2d(2)
        self.max3 = nn.MaxPool2d(2)
        self.max4 = nn.MaxPool2d(2)
        self.up_1 = nn.ConvTranspose2d(w5, w4, kernel_size=2, stride=2)
        self.conv_up_1 = _double_conv(2 * w4, w4, 0, norm=False)
        self.up_2 = nn.ConvTranspose2d(w4, w3, kernel_size=2, stride=2)
        self.conv_up_2 = _double_conv(2 * w3, w3, 0, norm=False)
        self.up_3 = nn.ConvTranspose2d(w3, w2, kernel_size=2, stride=2)
        self.conv_up_3 = _double_conv(2 * w2, w2, 0, norm=False)
        self.up_4 = nn.ConvTranspose2d(w2, w1, kernel_size=2, stride=2)
        self.conv_up_4 = _double_conv(2 * w1, w1, 0, norm=False)
        self.conv_final = nn.Conv2d(w1, num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skip1 = self.conv1_block(x)
        skip2 = self.conv2_block(self.max1(skip1))
        skip3 = self.conv3_block(self.max2(skip2))
        skip4 = self.conv4_block(self.max3(skip3))
        x = self.conv5_block(self.max4(skip4))
        for up, conv, skip in (
            (self.up_1, self.conv_up_1, skip4),
            (self.up_2, self.conv_up_2, skip3),
            (self.up_3, self.conv_up_3, skip2),
            (self.up_4, self.conv_up_4, skip1),
        ):
            x = up(x)
            x = conv(torch.cat([x, _centre_crop(skip, x.shape[-2], x.shape[-1])], dim=1))
        return self.conv_final(x)


class PaddedUNet(nn.Module):
    """A compact same-size U-Net (the demo models): depth ``len(widths) - 1`` poolings."""

    def __init__(self, in_channels: int = 3, num_classes: int = 2, widths=(16, 32, 64, 128)):
        super().__init__()
        self.size_multiple = 2 ** (len(widths) - 1)  # each pooling halves the sides; the adapter pads up to it
        self.encoders = nn.ModuleList()
        channels = in_channels
        for width in widths:
            self.encoders.append(_double_conv(channels, width, 1, norm=True))
            channels = width
        self.pool = nn.MaxPool2d(2)
        self.upsamplers = nn.ModuleList()
        self.decoders = nn.ModuleList()
        for width in reversed(widths[:-1]):
            self.upsamplers.append(nn.ConvTranspose2d(channels, width, kernel_size=2, stride=2))
            self.decoders.append(_double_conv(2 * width, width, 1, norm=True))
            channels = width
        self.head = nn.Conv2d(channels, num_classes, kernel_size=1)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        skips = []
        for index, encoder in enumerate(self.encoders):
            if index:
                x = self.pool(x)
            x = encoder(x)
            skips.append(x)
        for upsample, decoder, skip in zip(self.upsamplers, self.decoders, reversed(skips[:-1])):
            x = decoder(torch.cat([upsample(x), skip], dim=1))
        return self.head(x)


ARCHITECTURES = {
    "unet": ValidUNet,
    "padded_unet": PaddedUNet,
}


def build_architecture(name: str, **kwargs) -> nn.Module:
    """Instantiate a built-in architecture; ``kwargs`` come from the sidecar's ``architecture_args``."""
    try:
        factory = ARCHITECTURES[name]
    except KeyError:
        known = ", ".join(sorted(ARCHITECTURES))
        raise ValueError(f"unknown architecture {name!r} (built in: {known})") from None
    return factory(**kwargs)
