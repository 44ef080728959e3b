"""GFPGANv1Clean: the GFPGAN v1.3 / v1.4 face restorer, in the community "clean" parameter layout.

Written from the published description and checked against the public parameter layout, so community
checkpoints load with ``load_state_dict(strict=True)``:

- a U-Net encoder: ``conv_body_first`` (1x1), ``conv_body_down.N`` residual blocks that halve the size down
  to 4x4, ``final_conv``; ``final_linear`` maps the 4x4 features to the StyleGAN2 latent(s);
- a decoder path ``conv_body_up.N`` (residual blocks that double the size, with U-Net skips added) that
  produces, per resolution, SFT scale/shift maps (``condition_scale.N``, ``condition_shift.N``) and
  auxiliary RGB outputs (``toRGB.N``, unused at inference);
- ``stylegan_decoder``: a StyleGAN2 generator without custom CUDA ops (``style_mlp``, ``constant_input``,
  ``style_conv1``, ``to_rgb1``, ``style_convs.N``, ``to_rgbs.N``, ``noises.noiseN``) whose first conv of
  each resolution is modulated by the SFT maps (on half of its channels when ``sft_half``).

Images are ``N x 3 x S x S`` in [-1, 1] (``S = out_size``). v1.3/v1.4 use out_size 512,
num_style_feat 512, channel_multiplier 2, narrow 1, input_is_latent, different_w and sft_half.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F


def _channels(narrow: float, channel_multiplier: int) -> dict[int, int]:
    """Channels per resolution of the StyleGAN2 decoder (the U-Net uses ``narrow * 0.5``)."""
    base = {4: 512, 8: 512, 16: 512, 32: 512, 64: 256 * channel_multiplier, 128: 128 * channel_multiplier,
            256: 64 * channel_multiplier, 512: 32 * channel_multiplier, 1024: 16 * channel_multiplier}
    return {res: int(c * narrow) for res, c in base.items()}


class NormStyleCode(nn.Module):
    """Pixel norm of the style code (no parameters; index 0 of ``style_mlp``)."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * torch.rsqrt(torch.mean(x * x, dim=1, keepdim=True) + 1e-8)


class ModulatedConv2d(nn.Module):
    """StyleGAN2 weight-modulated convolution without bias; optional x2 bilinear upsampling first."""

    def __init__(self, in_ch: int, out_ch: int, kernel: int, num_style_feat: int, demodulate: bool = True,
                 upsample: bool = False) -> None:
        super().__init__()
        self.in_ch, self.out_ch, self.kernel = in_ch, out_ch, kernel
        self.demodulate, self.upsample = demodulate, upsample
        self.modulation = nn.Linear(num_style_feat, in_ch)
        nn.init.ones_(self.modulation.bias)  # neutral modulation at start
        self.weight = nn.Parameter(torch.randn(1, out_ch, in_ch, kernel, kernel) / math.sqrt(in_ch * kernel**2))

    def forward(self, x: torch.Tensor, style: torch.Tensor) -> torch.Tensor:
        b = x.shape[0]
        weight = self.weight * self.modulation(style).view(b, 1, self.in_ch, 1, 1)
        if self.demodulate:
            weight = weight * torch.rsqrt(weight.pow(2).sum(dim=(2, 3, 4), keepdim=True) + 1e-8)
        if self.upsample:
            x = F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False)
        h, w = x.shape[2:]
        # one grouped convolution applies each sample's own weights
        out = F.conv2d(x.reshape(1, b * self.in_ch, h, w),
                       weight.reshape(b * self.out_ch, self.in_ch, self.kernel, self.kernel),
                       padding=self.kernel // 2, groups=b)
        return out.reshape(b, self.out_ch, h, w)


class StyleConv(nn.Module):
    """Modulated conv, noise injection (``weight``), ``bias``, LeakyReLU."""

    def __init__(self, in_ch: int, out_ch: int, num_style_feat: int, upsample: bool) -> None:
        super().__init__()
        self.modulated_conv = ModulatedConv2d(in_ch, out_ch, 3, num_style_feat, True, upsample)
        self.weight = nn.Parameter(torch.zeros(1))
        self.bias = nn.Parameter(torch.zeros(1, out_ch, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, noise: torch.Tensor | None) -> torch.Tensor:
        out = self.modulated_conv(x, style) * math.sqrt(2.0)
        if noise is None:
            noise = out.new_empty(out.shape[0], 1, *out.shape[2:]).normal_()
        return F.leaky_relu(out + self.weight * noise + self.bias, 0.2)


class ToRGB(nn.Module):
    """1x1 modulated conv to RGB (not demodulated) plus the upsampled previous RGB."""

    def __init__(self, in_ch: int, num_style_feat: int, upsample: bool) -> None:
        super().__init__()
        self.upsample = upsample
        self.modulated_conv = ModulatedConv2d(in_ch, 3, 1, num_style_feat, demodulate=False)
        self.bias = nn.Parameter(torch.zeros(1, 3, 1, 1))

    def forward(self, x: torch.Tensor, style: torch.Tensor, skip: torch.Tensor | None = None) -> torch.Tensor:
        out = self.modulated_conv(x, style) + self.bias
        if skip is not None:
            if self.upsample:
                skip = F.interpolate(skip, scale_factor=2, mode="bilinear", align_corners=False)
            out = out + skip
        return out


class ConstantInput(nn.Module):
    def __init__(self, channels: int, size: int) -> None:
        super().__init__()
        self.weight = nn.Parameter(torch.randn(1, channels, size, size))

    def forward(self, batch: int) -> torch.Tensor:
        return self.weight.expand(batch, -1, -1, -1)


class StyleGAN2GeneratorClean(nn.Module):
    """StyleGAN2 generator (clean layout) with SFT modulation of the first conv of each resolution."""

    def __init__(self, out_size: int, num_style_feat: int = 512, num_mlp: int = 8, channel_multiplier: int = 2,
                 narrow: float = 1.0, sft_half: bool = False) -> None:
        super().__init__()
        self.num_style_feat, self.sft_half = num_style_feat, sft_half
        mlp: list[nn.Module] = [NormStyleCode()]
        for _ in range(num_mlp):
            mlp += [nn.Linear(num_style_feat, num_style_feat), nn.LeakyReLU(0.2, inplace=True)]
        self.style_mlp = nn.Sequential(*mlp)
        ch = _channels(narrow, channel_multiplier)
        self.log_size = int(math.log2(out_size))
        self.num_layers = (self.log_size - 2) * 2 + 1
        self.num_latent = self.log_size * 2 - 2
        self.constant_input = ConstantInput(ch[4], 4)
        self.style_conv1 = StyleConv(ch[4], ch[4], num_style_feat, upsample=False)
        self.to_rgb1 = ToRGB(ch[4], num_style_feat, upsample=False)
        self.style_convs = nn.ModuleList()
        self.to_rgbs = nn.ModuleList()
        self.noises = nn.Module()
        for idx in range(self.num_layers):
            res = 2 ** ((idx + 5) // 2)  # 4, 8, 8, 16, 16, ...
            self.noises.register_buffer(f"noise{idx}", torch.randn(1, 1, res, res))
        in_ch = ch[4]
        for level in range(3, self.log_size + 1):
            out_ch = ch[2**level]
            self.style_convs.append(StyleConv(in_ch, out_ch, num_style_feat, upsample=True))
            self.style_convs.append(StyleConv(out_ch, out_ch, num_style_feat, upsample=False))
            self.to_rgbs.append(ToRGB(out_ch, num_style_feat, upsample=True))
            in_ch = out_ch

    def forward(self, latent: torch.Tensor, conditions: list[torch.Tensor], randomize_noise: bool = False
                ) -> torch.Tensor:
        """``latent``: ``N x num_latent x num_style_feat`` (already in W space); ``conditions``: scale, shift
        pairs per resolution from 8 up. Stored noise unless ``randomize_noise``."""
        noise = [None if randomize_noise else getattr(self.noises, f"noise{i}") for i in range(self.num_layers)]
        out = self.style_conv1(self.constant_input(latent.shape[0]), latent[:, 0], noise[0])
        skip = self.to_rgb1(out, latent[:, 1])
        i = 1
        for k, to_rgb in enumerate(self.to_rgbs):
            out = self.style_convs[2 * k](out, latent[:, i], noise[2 * k + 1])
            if 2 * k + 1 < len(conditions):
                scale, shift = conditions[2 * k], conditions[2 * k + 1]
                if self.sft_half:
                    keep, mod = torch.split(out, out.shape[1] // 2, dim=1)
                    out = torch.cat([keep, mod * scale + shift], dim=1)
                else:
                    out = out * scale + shift
            out = self.style_convs[2 * k + 1](out, latent[:, i + 1], noise[2 * k + 2])
            skip = to_rgb(out, latent[:, i + 2], skip)
            i += 2
        return skip


class ResBlock(nn.Module):
    """conv, bilinear resize (x0.5 or x2), conv, plus a resized 1x1 skip."""

    def __init__(self, in_ch: int, out_ch: int, factor: float) -> None:
        super().__init__()
        self.factor = factor
        self.conv1 = nn.Conv2d(in_ch, in_ch, 3, 1, 1)
        self.conv2 = nn.Conv2d(in_ch, out_ch, 3, 1, 1)
        self.skip = nn.Conv2d(in_ch, out_ch, 1, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        resize = lambda t: F.interpolate(t, scale_factor=self.factor, mode="bilinear", align_corners=False)  # noqa: E731
        out = F.leaky_relu(self.conv2(resize(F.leaky_relu(self.conv1(x), 0.2))), 0.2)
        return out + self.skip(resize(x))


def _sft_branch(ch: int, out_ch: int) -> nn.Sequential:
    return nn.Sequential(nn.Conv2d(ch, ch, 3, 1, 1), nn.LeakyReLU(0.2, True), nn.Conv2d(ch, out_ch, 3, 1, 1))


class GFPGANv1Clean(nn.Module):
    """GFPGAN (clean layout). ``forward(x)`` maps ``N x 3 x S x S`` in [-1, 1] to the restored face in
    [-1, 1] (not clamped). The community v1.3/v1.4 settings are the defaults, except ``out_size``."""

    def __init__(self, out_size: int = 512, num_style_feat: int = 512, channel_multiplier: int = 2,
                 num_mlp: int = 8, input_is_latent: bool = True, different_w: bool = True, narrow: float = 1.0,
                 sft_half: bool = True) -> None:
        super().__init__()
        if out_size < 8 or out_size & (out_size - 1):
            raise ValueError(f"out_size must be a power of two >= 8, got {out_size}")
        self.out_size, self.num_style_feat, self.channel_multiplier = out_size, num_style_feat, channel_multiplier
        self.num_mlp, self.input_is_latent, self.different_w = num_mlp, input_is_latent, different_w
        self.narrow, self.sft_half = narrow, sft_half
        self.log_size = int(math.log2(out_size))
        ch = _channels(narrow * 0.5, channel_multiplier)
        self.conv_body_first = nn.Conv2d(3, ch[out_size], 1)
        self.conv_body_down = nn.ModuleList(
            ResBlock(ch[2**i], ch[2 ** (i - 1)], 0.5) for i in range(self.log_size, 2, -1)
        )
        self.final_conv = nn.Conv2d(ch[4], ch[4], 3, 1, 1)
        self.conv_body_up = nn.ModuleList(
            ResBlock(ch[2 ** (i - 1)] if i > 3 else ch[4], ch[2**i], 2.0) for i in range(3, self.log_size + 1)
        )
        self.toRGB = nn.ModuleList(nn.Conv2d(ch[2**i], 3, 1) for i in range(3, self.log_size + 1))
        n_latent = (self.log_size * 2 - 2) if different_w else 1
        self.final_linear = nn.Linear(ch[4] * 16, n_latent * num_style_feat)
        self.stylegan_decoder = StyleGAN2GeneratorClean(out_size, num_style_feat, num_mlp, channel_multiplier,
                                                        narrow, sft_half)
        sft = lambda c: c if sft_half else 2 * c  # noqa: E731
        self.condition_scale = nn.ModuleList(_sft_branch(ch[2**i], sft(ch[2**i])) for i in range(3, self.log_size + 1))
        self.condition_shift = nn.ModuleList(_sft_branch(ch[2**i], sft(ch[2**i])) for i in range(3, self.log_size + 1))

    def forward(self, x: torch.Tensor, randomize_noise: bool = False) -> torch.Tensor:
        feat = F.leaky_relu(self.conv_body_first(x), 0.2)
        skips = []
        for block in self.conv_body_down:
            feat = block(feat)
            skips.insert(0, feat)
        feat = F.leaky_relu(self.final_conv(feat), 0.2)
        code = self.final_linear(feat.flatten(1))
        decoder = self.stylegan_decoder
        if self.different_w:
            code = code.view(code.shape[0], -1, self.num_style_feat)
        if not self.input_is_latent:
            code = decoder.style_mlp(code)  # as the reference code: on a 3-D code the norm runs over dim 1
        latent = code if code.ndim == 3 else code.unsqueeze(1).expand(-1, decoder.num_latent, -1)
        conditions = []
        for i, block in enumerate(self.conv_body_up):
            feat = block(feat + skips[i])
            conditions += [self.condition_scale[i](feat), self.condition_shift[i](feat)]
        return decoder(latent, conditions, randomize_noise)

    def hyper_parameters(self) -> dict:
        return {
            "out_size": self.out_size, "num_style_feat": self.num_style_feat,
            "channel_multiplier": self.channel_multiplier, "num_mlp": self.num_mlp,
            "input_is_latent": self.input_is_latent, "different_w": self.different_w, "narrow": self.narrow,
            "sft_half": self.sft_half,
        }
