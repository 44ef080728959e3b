"""IRN-style invertible rescaling network (torch; extra ``train``).

A bijection ``HR (3 x H x W) <-> (LR (3 x H/s x W/s), z ((3 s^2 - 3) x H/s x W/s))`` built from, per x2 level,
a Haar wavelet transform (exactly invertible, orthonormal) followed by affine coupling blocks (IRN's
``InvBlockExp``: the LR part ``x1`` (3 channels) and the high-frequency part ``x2``):

    y1 = x1 + F(x2)
    y2 = x2 * exp(c * (2 sigmoid(H(y1)) - 1)) + G(y1)

whose inverse is written out in closed form, so forward-then-inverse with the true ``z`` returns the input
to float precision whatever the weights. x4 is two levels (12 then 48 channels), as in IRN. At upscaling time
``z`` is unknown: it is trained to follow N(0, 1) independently of the LR, and restored as zeros (its mean;
the best guess in L2) or a sample.

Sized for a CPU: the subnets are three 3x3 convolutions of ``features`` channels (IRN uses dense blocks); x4
may have fewer blocks on its first (2x larger) level than on its second (``blocks`` / ``top_blocks``).

``restore`` (optional, not invertible): a small residual CNN the upscaler applies to the LR before the inverse,
trained on JPEG'd LRs to bring them back towards the LR the downscaler wrote (as SAIN's asymmetric part); it
starts as the identity, and the bijection itself stays exact.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn


@dataclass(frozen=True)
class IrnSpec:
    scale: int = 2  # 2 or 4 (one or two Haar levels)
    blocks: int = 4  # coupling blocks per level
    features: int = 32  # channels of each subnet's hidden convolutions
    clamp: float = 1.0  # bound of the log-scale of the affine coupling
    top_blocks: int = 0  # x4: coupling blocks of the second level (0: ``blocks``)
    restore: int = 0  # features of the upscaler's LR restoration CNN (0: none)

    def __post_init__(self) -> None:
        if (self.scale not in (2, 4) or self.blocks < 1 or self.features < 1 or not self.clamp > 0
                or self.top_blocks < 0 or self.restore < 0):  # fmt: skip
            raise ValueError("IRN: scale 2 or 4, blocks >= 1, features >= 1, clamp > 0, top_blocks and restore >= 0")

    @property
    def levels(self) -> int:
        return 1 if self.scale == 2 else 2

    def level_blocks(self, level: int) -> int:
        return self.top_blocks if level > 0 and self.top_blocks else self.blocks


class Haar(nn.Module):
    """Orthonormal 2x2 Haar transform, per channel: C x H x W -> 4C x H/2 x W/2 ordered (all LL, all LH, all
    HL, all HH), so the first C channels are the (2x-scaled) box average. Its inverse is its transpose."""

    def __init__(self, channels: int) -> None:
        super().__init__()
        self.channels = channels
        w = torch.tensor([[[1, 1], [1, 1]], [[1, -1], [1, -1]], [[1, 1], [-1, -1]], [[1, -1], [-1, 1]]],
                         dtype=torch.float32) / 2  # fmt: skip
        # weight (4C, 1, 2, 2) grouped per input channel; output order c*4 + k, reordered to k*C + c
        self.register_buffer("weight", w[:, None].repeat(channels, 1, 1, 1), persistent=False)

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        c = self.channels
        if not rev:
            y = nn.functional.conv2d(x, self.weight, stride=2, groups=c)
            n, _, h, w = y.shape
            return y.reshape(n, c, 4, h, w).transpose(1, 2).reshape(n, 4 * c, h, w)
        n, _, h, w = x.shape
        x = x.reshape(n, 4, c, h, w).transpose(1, 2).reshape(n, 4 * c, h, w)
        return nn.functional.conv_transpose2d(x, self.weight, stride=2, groups=c)


def _subnet(cin: int, cout: int, features: int) -> nn.Sequential:
    last = nn.Conv2d(features, cout, 3, padding=1)
    nn.init.zeros_(last.weight)  # each block starts as the identity: training starts from the Haar split
    nn.init.zeros_(last.bias)
    return nn.Sequential(nn.Conv2d(cin, features, 3, padding=1), nn.LeakyReLU(0.2),
                         nn.Conv2d(features, features, 3, padding=1), nn.LeakyReLU(0.2), last)


class Coupling(nn.Module):
    """IRN's affine coupling block on (x1: ``split`` channels, x2: the rest)."""

    def __init__(self, channels: int, split: int, features: int, clamp: float) -> None:
        super().__init__()
        self.split, self.clamp = split, clamp
        self.f = _subnet(channels - split, split, features)
        self.g = _subnet(split, channels - split, features)
        self.h = _subnet(split, channels - split, features)

    def _log_scale(self, y1: torch.Tensor) -> torch.Tensor:
        return self.clamp * (torch.sigmoid(self.h(y1)) * 2 - 1)

    def forward(self, x: torch.Tensor, rev: bool = False) -> torch.Tensor:
        a, b = x[:, : self.split], x[:, self.split :]
        if not rev:
            y1 = a + self.f(b)
            y2 = b * torch.exp(self._log_scale(y1)) + self.g(y1)
        else:
            y1 = a
            y2 = (b - self.g(a)) * torch.exp(-self._log_scale(a))
            y1 = a - self.f(y2)
        return torch.cat([y1, y2], 1)


class InvRescaleNet(nn.Module):
    """``forward(hr) -> (lr, z)``; ``inverse(lr, z) -> hr``. LR here is the network's continuous output; the
    shipped downscaler clamps and rounds it to 8 bits, the training quantises it the same way."""

    def __init__(self, spec: IrnSpec = IrnSpec()) -> None:
        super().__init__()
        self.spec = spec
        ops: list[nn.Module] = []
        channels = 3
        for level in range(spec.levels):
            ops.append(Haar(channels))
            channels *= 4
            ops += [Coupling(channels, 3, spec.features, spec.clamp) for _ in range(spec.level_blocks(level))]
        self.ops = nn.ModuleList(ops)
        self.z_channels = channels - 3
        self.restorer = _subnet(3, 3, spec.restore) if spec.restore else None

    def hyper_parameters(self) -> dict:
        return asdict(self.spec)

    def _run(self, x: torch.Tensor, rev: bool) -> torch.Tensor:
        for op in reversed(self.ops) if rev else self.ops:
            x = op(x, rev)
        return x

    def forward(self, hr: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Haar LL of a level is 2x the box mean; /scale keeps the LR on the image's value range at init.
        y = self._run(hr, False)
        return y[:, :3] / self.spec.scale, y[:, 3:]

    def inverse(self, lr: torch.Tensor, z: torch.Tensor | None = None) -> torch.Tensor:
        if z is None:
            z = lr.new_zeros(lr.shape[0], self.z_channels, lr.shape[2], lr.shape[3])
        return self._run(torch.cat([lr * self.spec.scale, z], 1), True)

    def restore_lr(self, lr: torch.Tensor) -> torch.Tensor:
        """The LR the upscaler inverts: ``lr`` plus the restoration CNN's residual (``lr`` when there is none)."""
        return lr if self.restorer is None else lr + self.restorer(lr)


class Downscaler(nn.Module):
    """The exported downscaling graph: HR -> LR (clamped to [0, 1]; the writer rounds it)."""

    def __init__(self, net: InvRescaleNet) -> None:
        super().__init__()
        self.net = net

    def hyper_parameters(self) -> dict:
        return self.net.hyper_parameters()

    def forward(self, hr: torch.Tensor) -> torch.Tensor:
        return torch.clamp(self.net(hr)[0], 0, 1)


class Upscaler(nn.Module):
    """The exported upscaling graph: LR -> HR with z = 0 (the latent's mean)."""

    def __init__(self, net: InvRescaleNet) -> None:
        super().__init__()
        self.net = net

    def hyper_parameters(self) -> dict:
        return self.net.hyper_parameters()

    def forward(self, lr: torch.Tensor) -> torch.Tensor:
        # zeros shaped from the input by ops (not Python ints), so the ONNX graph keeps H and W dynamic
        z = torch.zeros_like(lr[:, :1]).repeat(1, self.net.z_channels, 1, 1)
        return torch.clamp(self.net.inverse(self.net.restore_lr(lr), z), 0, 1)
