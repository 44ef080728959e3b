"""FaceUNet: our compact face restorer, a residual U-Net on aligned face crops.

The net sees a degraded face already resized to its native size (a bicubic-upscaled, blurred, noisy or
JPEG'd aligned crop) and predicts a correction added to it, so an untrained net is the identity and the
training only has to learn detail. Three downsamplings (stride-2 convolutions), skip connections by
concatenation, pixel-shuffle upsampling; LeakyReLU everywhere. The input size must be a multiple of 8.
"""

from __future__ import annotations

import torch
from torch import nn


def _block(in_ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(
        nn.Conv2d(in_ch, out_ch, 3, 1, 1),
        nn.LeakyReLU(0.2, inplace=True),
        nn.Conv2d(out_ch, out_ch, 3, 1, 1),
        nn.LeakyReLU(0.2, inplace=True),
    )


class FaceUNet(nn.Module):
    """``N x 3 x H x W`` RGB in [0, 1] -> same shape (not clamped; callers clip). H, W multiples of 8.

    base: channels at full resolution; they double at each of the three lower levels.
    linear_kernel: size of a linear convolution branch added to the output (0: none). Training fits it in
        closed form (least squares) before the gradient steps, and starts the U-Net's last layer at zero,
        so the net starts as the best linear restorer and the steps only add what a linear filter cannot do.
    """

    def __init__(self, base: int = 16, levels: int = 3, linear_kernel: int = 0) -> None:
        super().__init__()
        if base < 1 or levels < 1:
            raise ValueError(f"base and levels must be positive, got base={base}, levels={levels}")
        if linear_kernel < 0 or (linear_kernel and linear_kernel % 2 == 0):
            raise ValueError(f"linear_kernel must be 0 or odd, got {linear_kernel}")
        self.base, self.levels, self.linear_kernel = base, levels, linear_kernel
        chans = [base * 2**i for i in range(levels + 1)]
        self.head = _block(3, chans[0])
        self.down = nn.ModuleList(
            nn.Sequential(nn.Conv2d(chans[i], chans[i + 1], 3, 2, 1), nn.LeakyReLU(0.2, inplace=True))
            for i in range(levels)
        )
        self.enc = nn.ModuleList(_block(chans[i + 1], chans[i + 1]) for i in range(levels))
        # upsampling by pixel shuffle: conv to 4x the target channels, then rearrange.
        self.up = nn.ModuleList(
            nn.Sequential(nn.Conv2d(chans[i + 1], chans[i] * 4, 3, 1, 1), nn.PixelShuffle(2))
            for i in range(levels)
        )
        self.dec = nn.ModuleList(_block(chans[i] * 2, chans[i]) for i in range(levels))
        self.tail = nn.Conv2d(chans[0], 3, 3, 1, 1)
        if linear_kernel:
            self.linear = nn.Conv2d(3, 3, linear_kernel, 1, linear_kernel // 2)
            nn.init.zeros_(self.linear.weight)
            nn.init.zeros_(self.linear.bias)
            nn.init.zeros_(self.tail.weight)
            nn.init.zeros_(self.tail.bias)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        feats = [self.head(x)]
        for down, enc in zip(self.down, self.enc):
            feats.append(enc(down(feats[-1])))
        out = feats[-1]
        for i in reversed(range(self.levels)):
            out = self.dec[i](torch.cat([self.up[i](out), feats[i]], dim=1))
        out = x + self.tail(out)
        return out + self.linear(x) if self.linear_kernel else out

    def hyper_parameters(self) -> dict:
        return {"base": self.base, "levels": self.levels, "linear_kernel": self.linear_kernel}
