"""The inpainting network (torch; training and export only, never imported at run time).

A compact gated-convolution encoder-decoder (DeepFill v2's gated convolutions, Yu et al. 2019) with HiFill's
attention transfer at the bottleneck (Yi et al. 2020):

- input: the image with the hole zeroed, the mask, and a push-pull fill of the hole (``push_pull``: masked
  averages down a pyramid, pulled back up bilinearly; a smooth membrane-like guess), at low resolution (sides
  multiples of 16); the network predicts a correction of that guess, its last layer starting at zero, so a
  short CPU training starts from a sensible fill instead of from nothing;
- encoder: three stride-2 gated convolutions to 1/8;
- bottleneck: dilated gated residual blocks (dilations 1, 2, 4, 8) for a wide field of view;
- attention transfer at 1/16 (the bottleneck pooled 2x, as HiFill's 32x32 grid for a 512 input): cosine
  similarities between every token and the known tokens (softmax with a temperature), which aggregate known
  features into the hole; the *same* scores are what the run time uses at
  full resolution to transfer high-frequency residuals (contextual residual aggregation, ``runtime.py``);
- decoder: nearest upsampling + gated convolutions with skips, to RGB.

The graph returns the low-resolution RGB and the normalised query features and known-token mask the scores
are computed from, so the run time can compute the scores of the hole tokens only.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torch import nn
from torch.nn import functional as F


@dataclass(frozen=True)
class InpaintSpec:
    width: int = 24  # channels at 1/2; 2x at 1/4, 3x at 1/8
    blocks: int = 4  # dilated residual blocks at 1/8
    temperature: float = 10.0  # attention softmax: exp(temperature * cosine)

    def as_dict(self) -> dict:
        return asdict(self)


class GatedConv(nn.Module):
    def __init__(self, cin: int, cout: int, kernel: int = 3, stride: int = 1, dilation: int = 1, act: bool = True):
        super().__init__()
        self.conv = nn.Conv2d(cin, 2 * cout, kernel, stride, padding=dilation * (kernel - 1) // 2, dilation=dilation)
        self.act = act

    def forward(self, x):
        feature, gate = self.conv(x).chunk(2, dim=1)
        if self.act:
            feature = F.elu(feature)
        return feature * torch.sigmoid(gate)


class Block(nn.Module):
    def __init__(self, channels: int, dilation: int):
        super().__init__()
        self.a = GatedConv(channels, channels, 3, dilation=dilation)
        self.b = GatedConv(channels, channels, 3, act=False)

    def forward(self, x):
        return x + self.b(self.a(x))


def attention_scores(query: torch.Tensor, known: torch.Tensor, temperature: float) -> torch.Tensor:
    """(N, T, T) softmax over the known tokens of exp(temperature * cosine); query (N, C, h, w) normalised,
    known (N, 1, h, w) in {0, 1}."""
    q = query.flatten(2)  # N, C, T
    logits = temperature * torch.bmm(q.transpose(1, 2), q)  # N, T, T
    keys = known.flatten(2)  # N, 1, T
    logits = logits.masked_fill(keys < 0.5, -1e4)
    return torch.softmax(logits, dim=2)


TOKEN = 16  # input pixels per attention token
LEVELS = 8  # push-pull pyramid levels (1/256), then the known pixels' mean


def push_pull(rgb: torch.Tensor, known: torch.Tensor) -> torch.Tensor:
    """The hole (known = 0) filled by normalised averaging down a 2x pyramid and bilinear pulling back up;
    known pixels are kept. rgb (N, 3, H, W), known (N, 1, H, W). Pooling's divisor cancels in value / weight,
    so ``ceil_mode``'s partial windows at odd sizes are exact."""
    values, weights = [rgb * known], [known]
    for _ in range(LEVELS):
        values.append(F.avg_pool2d(values[-1], 2, ceil_mode=True))
        weights.append(F.avg_pool2d(weights[-1], 2, ceil_mode=True))
    mean = values[0].sum(dim=(2, 3), keepdim=True) / (weights[0].sum(dim=(2, 3), keepdim=True) + 1e-8)
    fill = mean.expand_as(values[-1])
    for value, weight in zip(reversed(values), reversed(weights)):
        fill = F.interpolate(fill, size=value.shape[-2:], mode="bilinear", align_corners=False)
        have = torch.clamp(weight * 1e6, 0.0, 1.0)  # any known pixel under this cell
        fill = have * value / (weight + 1e-8) + (1 - have) * fill
    return fill


def known_tokens(mask: torch.Tensor) -> torch.Tensor:
    """1 where a token's block and its neighbours hold no hole pixel (mask: N, 1, H, W; 1 = hole)."""
    hole = F.max_pool2d(mask, TOKEN, TOKEN)
    hole = F.max_pool2d(hole, 3, 1, 1)
    return 1.0 - hole


class InpaintNet(nn.Module):
    def __init__(self, spec: InpaintSpec = InpaintSpec()):
        super().__init__()
        self.spec = spec
        c1, c2, c3 = spec.width, 2 * spec.width, 3 * spec.width
        self.e1 = GatedConv(7, c1, 5, stride=2)
        self.e2 = GatedConv(c1, c2, 3, stride=2)
        self.e3 = GatedConv(c2, c3, 3, stride=2)
        dilations = [1, 2, 4, 8]
        self.body = nn.Sequential(*[Block(c3, dilations[i % 4]) for i in range(spec.blocks)])
        self.query = nn.Conv2d(c3, c3, 1)
        self.merge = GatedConv(2 * c3, c3, 3)
        self.d3 = GatedConv(c3 + c2, c2, 3)
        self.d2 = GatedConv(c2 + c1, c1, 3)
        self.d1 = GatedConv(c1 + 7, 12, 3)
        self.out = nn.Conv2d(12, 3, 3, padding=1)
        nn.init.zeros_(self.out.weight)  # start from the push-pull fill
        nn.init.zeros_(self.out.bias)

    def forward(self, rgb: torch.Tensor, mask: torch.Tensor):
        """rgb (N, 3, H, W) in [0, 1], mask (N, 1, H, W), 1 = hole; H, W multiples of 16.
        Returns (rgb out, query features at 1/16, known-token mask at 1/16)."""
        coarse = push_pull(rgb, 1 - mask)
        x = torch.cat([rgb * (1 - mask), mask, coarse], dim=1)
        f1 = self.e1(x)
        f2 = self.e2(f1)
        f3 = self.body(self.e3(f2))
        pooled = F.avg_pool2d(f3, 2)
        query = F.normalize(self.query(pooled), dim=1)
        known = known_tokens(mask)
        scores = attention_scores(query, known, self.spec.temperature)
        n, c, h, w = pooled.shape
        moved = torch.bmm(pooled.flatten(2), scores.transpose(1, 2)).view(n, c, h, w)
        moved = F.interpolate(moved, scale_factor=2.0, mode="nearest")
        f3 = f3 + self.merge(torch.cat([f3, moved], dim=1))
        up = F.interpolate(f3, scale_factor=2.0, mode="nearest")
        y = self.d3(torch.cat([up, f2], dim=1))
        y = self.d2(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), f1], dim=1))
        y = self.d1(torch.cat([F.interpolate(y, scale_factor=2.0, mode="nearest"), x], dim=1))
        out = torch.clamp(coarse + self.out(y), 0.0, 1.0)
        return out, query, known
