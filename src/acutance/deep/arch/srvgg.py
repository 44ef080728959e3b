"""SRVGGNetCompact: the compact VGG-style SR net of Real-ESRGAN (realesr-general / animevideo models).

All computation happens at LR resolution: ``conv -> act -> (conv -> act) x num_conv -> conv`` to
``out_ch * scale**2`` channels, pixel shuffle, plus an upsampled copy of the input so the net learns only the
residual. Parameter keys match the community layout: ``body.{i}.weight`` / ``body.{i}.bias`` where even ``i``
are convolutions and odd ``i`` activations (PReLU has a ``weight``).
"""

from __future__ import annotations

import torch
from torch import nn
from torch.nn import functional as F

ACTIVATIONS = ("prelu", "relu", "leakyrelu")
SKIPS = ("nearest", "bicubic")


def bicubic_phase_kernel(scale: int, a: float = -0.75) -> torch.Tensor:
    """``(scale**2, 1, 5, 5)`` kernels: output phase ``(ry, rx)`` of torch's bicubic upscale (a = -0.75,
    align_corners False) as a 5x5 filter of the LR image, so that conv + pixel shuffle equals the upscale."""

    def weight(t: float) -> float:
        t = abs(t)
        if t <= 1:
            return (a + 2) * t**3 - (a + 3) * t**2 + 1
        return a * t**3 - 5 * a * t**2 + 8 * a * t - 4 * a if t < 2 else 0.0

    taps = torch.zeros(scale, 5, dtype=torch.float64)
    for r in range(scale):
        offset = (r + 0.5) / scale - 0.5  # source position of output phase r, relative to LR pixel i
        for d in range(-2, 3):
            taps[r, d + 2] = weight(offset - d)
    kernel = torch.einsum("yi,xj->yxij", taps, taps).reshape(scale * scale, 1, 5, 5)
    return kernel.float()


class SRVGGNetCompact(nn.Module):
    """x``upscale`` SR on ``N x C x H x W`` tensors in [0, 1].

    skip: how the input is upsampled for the residual: ``nearest`` (the community models) or ``bicubic``
        (our fidelity models: the net then only adds detail to bicubic, which trains faster).
    """

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        num_feat: int = 64,
        num_conv: int = 16,
        upscale: int = 4,
        act_type: str = "prelu",
        skip: str = "nearest",
    ) -> None:
        super().__init__()
        if act_type not in ACTIVATIONS:
            raise ValueError(f"act_type must be one of {ACTIVATIONS}, not {act_type!r}")
        if skip not in SKIPS:
            raise ValueError(f"skip must be one of {SKIPS}, not {skip!r}")
        self.num_in_ch, self.num_out_ch = num_in_ch, num_out_ch
        self.num_feat, self.num_conv, self.upscale = num_feat, num_conv, upscale
        self.act_type, self.skip = act_type, skip
        layers: list[nn.Module] = [nn.Conv2d(num_in_ch, num_feat, 3, 1, 1), self._act(num_feat)]
        for _ in range(num_conv):
            layers += [nn.Conv2d(num_feat, num_feat, 3, 1, 1), self._act(num_feat)]
        layers.append(nn.Conv2d(num_feat, num_out_ch * upscale * upscale, 3, 1, 1))
        self.body = nn.ModuleList(layers)
        self.shuffle = nn.PixelShuffle(upscale)
        # The bicubic skip as a fixed depthwise convolution before the pixel shuffle (not a Resize op:
        # onnxruntime's cubic Resize took 5x the time of the whole net). Not in the state dict.
        self.register_buffer("bicubic_phases", bicubic_phase_kernel(upscale).repeat(num_in_ch, 1, 1, 1), persistent=False)

    def _act(self, channels: int) -> nn.Module:
        if self.act_type == "prelu":
            return nn.PReLU(num_parameters=channels)
        if self.act_type == "relu":
            return nn.ReLU(inplace=True)
        return nn.LeakyReLU(negative_slope=0.1, inplace=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = x
        for layer in self.body:
            out = layer(out)
        if self.skip == "bicubic" and self.num_in_ch == self.num_out_ch:
            padded = F.pad(x, (2, 2, 2, 2), mode="replicate")  # torch's bicubic clamps at the borders
            return self.shuffle(out + F.conv2d(padded, self.bicubic_phases, groups=self.num_in_ch))
        out = self.shuffle(out)
        if self.skip == "bicubic":
            base = F.interpolate(x, scale_factor=self.upscale, mode="bicubic", align_corners=False)
        else:
            base = F.interpolate(x, scale_factor=self.upscale, mode="nearest")
        if self.num_in_ch != self.num_out_ch:
            base = base.mean(dim=1, keepdim=True).expand(-1, self.num_out_ch, -1, -1)
        return out + base

    def hyper_parameters(self) -> dict:
        return {
            "num_in_ch": self.num_in_ch,
            "num_out_ch": self.num_out_ch,
            "num_feat": self.num_feat,
            "num_conv": self.num_conv,
            "upscale": self.upscale,
            "act_type": self.act_type,
            "skip": self.skip,
        }
