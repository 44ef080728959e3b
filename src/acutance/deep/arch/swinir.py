"""SwinIR: image restoration with shifted-window Swin Transformer blocks (Liang et al. 2021).

``conv_first`` (shallow features) -> residual Swin Transformer blocks (RSTB: ``depths[i]`` Swin blocks
attending within ``window_size`` windows, every second one shifted by half a window, then a conv, plus a
residual) -> ``norm`` -> ``conv_after_body`` + long skip -> reconstruction by the ``upsampler``:

- ``pixelshuffledirect`` (SwinIR-light): one conv to ``3 * scale**2`` channels + pixel shuffle;
- ``pixelshuffle`` (classical SR): ``conv_before_upsample``, conv + pixel shuffle stages, ``conv_last``;
- ``nearest+conv`` (real-world SR): ``conv_before_upsample``, nearest x2 + ``conv_up1`` (+ ``conv_up2``),
  ``conv_hr``, ``conv_last``;
- ``""`` (scale 1, denoising / JPEG): ``conv_last`` and a residual to the input.

Parameter keys match the official checkpoints (``layers.N.residual_group.blocks.M.attn.qkv.weight`` ...).
The official ``relative_position_index`` and ``attn_mask`` buffers are derived (not parameters): they are
not part of this module's state dict; ``acutance.deep.checkpoint`` drops them from community files. The
shift mask is computed from the actual (padded) image size with tensor ops, so one ONNX graph serves any
H and W; H and W are reflect-padded to multiples of ``window_size`` and the output cropped, as upstream.
"""

from __future__ import annotations

import math

import torch
from torch import nn
from torch.nn import functional as F

UPSAMPLERS = ("pixelshuffledirect", "pixelshuffle", "nearest+conv", "")
RGB_MEAN = (0.4488, 0.4371, 0.4040)  # DIV2K mean, subtracted by the official 3-channel models


def _relative_position_index(window_size: int) -> torch.Tensor:
    coords = torch.stack(torch.meshgrid(torch.arange(window_size), torch.arange(window_size), indexing="ij"))
    flat = torch.flatten(coords, 1)
    relative = (flat[:, :, None] - flat[:, None, :]).permute(1, 2, 0).contiguous()
    relative[:, :, 0] += window_size - 1
    relative[:, :, 1] += window_size - 1
    relative[:, :, 0] *= 2 * window_size - 1
    return relative.sum(-1)


def window_partition(x: torch.Tensor, window_size: int) -> torch.Tensor:
    """B x H x W x C -> (B * windows) x window_size x window_size x C."""
    b, h, w, c = x.shape
    x = x.view(b, h // window_size, window_size, w // window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, window_size, window_size, c)


def window_reverse(windows: torch.Tensor, window_size: int, h: int, w: int) -> torch.Tensor:
    """Inverse of ``window_partition``."""
    c = windows.shape[-1]
    x = windows.view(-1, h // window_size, w // window_size, window_size, window_size, c)
    return x.permute(0, 1, 3, 2, 4, 5).contiguous().view(-1, h, w, c)


def shift_mask(h: int, w: int, window_size: int, shift: int, device=None) -> torch.Tensor:
    """Attention mask of shifted windows (windows x N x N, 0 or -100), as upstream's ``calculate_mask``.

    The three regions per axis (``[0, -ws)``, ``[-ws, -shift)``, ``[-shift, end)``) are found by comparing
    positions with ``size - ws`` and ``size - shift``, so the size may be a traced (dynamic) value.
    """
    ys = torch.arange(h, device=device)
    xs = torch.arange(w, device=device)
    region_y = (ys >= h - window_size).long() + (ys >= h - shift).long()
    region_x = (xs >= w - window_size).long() + (xs >= w - shift).long()
    regions = (region_y[:, None] * 3 + region_x[None, :]).to(torch.float32)[None, :, :, None]
    windows = window_partition(regions, window_size).view(-1, window_size * window_size)
    mask = windows.unsqueeze(1) - windows.unsqueeze(2)
    return mask.masked_fill(mask != 0, -100.0).masked_fill(mask == 0, 0.0)


class WindowAttention(nn.Module):
    """Multi-head self-attention inside a window, with a learned relative position bias."""

    def __init__(self, dim: int, window_size: int, num_heads: int, qkv_bias: bool = True) -> None:
        super().__init__()
        self.dim, self.window_size, self.num_heads = dim, window_size, num_heads
        self.scale = (dim // num_heads) ** -0.5
        self.relative_position_bias_table = nn.Parameter(torch.zeros((2 * window_size - 1) ** 2, num_heads))
        self.register_buffer("relative_position_index", _relative_position_index(window_size), persistent=False)
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)
        nn.init.trunc_normal_(self.relative_position_bias_table, std=0.02)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        b_, n, c = x.shape
        qkv = self.qkv(x).reshape(b_, n, 3, self.num_heads, c // self.num_heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv[0], qkv[1], qkv[2]
        attn = (q * self.scale) @ k.transpose(-2, -1)
        bias = self.relative_position_bias_table[self.relative_position_index.view(-1)]
        attn = attn + bias.view(n, n, -1).permute(2, 0, 1).contiguous().unsqueeze(0)
        if mask is not None:
            windows = mask.shape[0]
            attn = attn.view(-1, windows, self.num_heads, n, n) + mask.unsqueeze(1).unsqueeze(0)
            attn = attn.view(-1, self.num_heads, n, n)
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b_, n, c))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int) -> None:
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden)
        self.act = nn.GELU()
        self.fc2 = nn.Linear(hidden, dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(self.act(self.fc1(x)))


class SwinTransformerBlock(nn.Module):
    """LayerNorm -> (shifted) window attention -> residual; LayerNorm -> MLP -> residual."""

    def __init__(self, dim: int, num_heads: int, window_size: int, shift_size: int, mlp_ratio: float, qkv_bias: bool) -> None:
        super().__init__()
        self.window_size, self.shift_size = window_size, shift_size
        self.norm1 = nn.LayerNorm(dim)
        self.attn = WindowAttention(dim, window_size, num_heads, qkv_bias)
        self.norm2 = nn.LayerNorm(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio))

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, _, c = x.shape
        ws, shift = self.window_size, self.shift_size
        shortcut = x
        x = self.norm1(x).view(b, h, w, c)
        mask = None
        if shift:
            x = torch.roll(x, shifts=(-shift, -shift), dims=(1, 2))
            mask = shift_mask(h, w, ws, shift, x.device)
        windows = window_partition(x, ws).view(-1, ws * ws, c)
        windows = self.attn(windows, mask).view(-1, ws, ws, c)
        x = window_reverse(windows, ws, h, w)
        if shift:
            x = torch.roll(x, shifts=(shift, shift), dims=(1, 2))
        x = shortcut + x.reshape(b, -1, c)
        return x + self.mlp(self.norm2(x))


class BasicLayer(nn.Module):
    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float, qkv_bias: bool) -> None:
        super().__init__()
        self.blocks = nn.ModuleList(
            SwinTransformerBlock(dim, num_heads, window_size, 0 if i % 2 == 0 else window_size // 2, mlp_ratio, qkv_bias)
            for i in range(depth)
        )

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        for block in self.blocks:
            x = block(x, h, w)
        return x


def _resi_conv(dim: int, kind: str) -> nn.Module:
    """The conv closing a residual group: one 3x3 conv (``1conv``) or a 3x3 / 1x1 / 3x3 bottleneck (``3conv``)."""
    if kind == "1conv":
        return nn.Conv2d(dim, dim, 3, 1, 1)
    return nn.Sequential(
        nn.Conv2d(dim, dim // 4, 3, 1, 1),
        nn.LeakyReLU(negative_slope=0.2, inplace=True),
        nn.Conv2d(dim // 4, dim // 4, 1, 1, 0),
        nn.LeakyReLU(negative_slope=0.2, inplace=True),
        nn.Conv2d(dim // 4, dim, 3, 1, 1),
    )


class RSTB(nn.Module):
    """Residual Swin Transformer Block: a group of Swin blocks, a conv, and a residual around them."""

    def __init__(self, dim: int, depth: int, num_heads: int, window_size: int, mlp_ratio: float, qkv_bias: bool, resi_connection: str) -> None:
        super().__init__()
        self.residual_group = BasicLayer(dim, depth, num_heads, window_size, mlp_ratio, qkv_bias)
        self.conv = _resi_conv(dim, resi_connection)

    def forward(self, x: torch.Tensor, h: int, w: int) -> torch.Tensor:
        b, _, c = x.shape
        y = self.residual_group(x, h, w).transpose(1, 2).reshape(b, c, h, w)
        return self.conv(y).flatten(2).transpose(1, 2) + x


class _PatchEmbedNorm(nn.Module):
    """Holds ``patch_embed.norm`` (the official PatchEmbed with patch size 1 is only a flatten + LayerNorm)."""

    def __init__(self, dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(dim)


class SwinIR(nn.Module):
    """x``upscale`` restoration on ``N x C x H x W`` tensors in [0, 1] (any H, W: padded to the window)."""

    def __init__(
        self,
        num_in_ch: int = 3,
        num_out_ch: int = 3,
        embed_dim: int = 60,
        depths: tuple[int, ...] = (6, 6, 6, 6),
        num_heads: tuple[int, ...] = (6, 6, 6, 6),
        window_size: int = 8,
        mlp_ratio: float = 2.0,
        qkv_bias: bool = True,
        upscale: int = 4,
        img_range: float = 1.0,
        upsampler: str = "pixelshuffledirect",
        resi_connection: str = "1conv",
        num_feat: int = 64,
    ) -> None:
        super().__init__()
        if upsampler not in UPSAMPLERS:
            raise ValueError(f"upsampler must be one of {UPSAMPLERS}, not {upsampler!r}")
        if len(depths) != len(num_heads):
            raise ValueError(f"depths {depths} and num_heads {num_heads} must have the same length")
        if resi_connection not in ("1conv", "3conv"):
            raise ValueError(f"resi_connection must be '1conv' or '3conv', not {resi_connection!r}")
        if upsampler == "nearest+conv" and upscale not in (2, 4):
            raise ValueError("the nearest+conv upsampler supports x2 and x4")
        if upsampler == "" and upscale != 1:
            raise ValueError("upsampler '' (restoration) keeps the size: upscale must be 1")
        if upsampler in ("pixelshuffle",) and upscale not in (2, 3, 4, 8):
            raise ValueError("the pixelshuffle upsampler supports x2, x3, x4, x8")
        self.num_in_ch, self.num_out_ch, self.embed_dim = num_in_ch, num_out_ch, embed_dim
        self.depths, self.num_heads = tuple(int(d) for d in depths), tuple(int(n) for n in num_heads)
        self.window_size, self.mlp_ratio, self.qkv_bias = window_size, float(mlp_ratio), qkv_bias
        self.upscale, self.img_range, self.upsampler = upscale, float(img_range), upsampler
        self.resi_connection, self.num_feat = resi_connection, num_feat
        mean = RGB_MEAN if num_in_ch == 3 else (0.0,) * num_in_ch
        self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(1, -1, 1, 1), persistent=False)

        self.conv_first = nn.Conv2d(num_in_ch, embed_dim, 3, 1, 1)
        self.patch_embed = _PatchEmbedNorm(embed_dim)
        self.layers = nn.ModuleList(
            RSTB(embed_dim, depth, heads, window_size, mlp_ratio, qkv_bias, resi_connection)
            for depth, heads in zip(self.depths, self.num_heads)
        )
        self.norm = nn.LayerNorm(embed_dim)
        self.conv_after_body = _resi_conv(embed_dim, resi_connection)
        lrelu = lambda: nn.LeakyReLU(inplace=True)
        if upsampler == "pixelshuffle":
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, num_feat, 3, 1, 1), lrelu())
            stages: list[nn.Module] = []
            if upscale == 3:
                stages += [nn.Conv2d(num_feat, 9 * num_feat, 3, 1, 1), nn.PixelShuffle(3)]
            else:
                for _ in range(int(math.log2(upscale))):
                    stages += [nn.Conv2d(num_feat, 4 * num_feat, 3, 1, 1), nn.PixelShuffle(2)]
            self.upsample = nn.Sequential(*stages)
            self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
        elif upsampler == "pixelshuffledirect":
            self.upsample = nn.Sequential(nn.Conv2d(embed_dim, upscale**2 * num_out_ch, 3, 1, 1), nn.PixelShuffle(upscale))
        elif upsampler == "nearest+conv":
            self.conv_before_upsample = nn.Sequential(nn.Conv2d(embed_dim, num_feat, 3, 1, 1), lrelu())
            self.conv_up1 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            if upscale == 4:
                self.conv_up2 = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_hr = nn.Conv2d(num_feat, num_feat, 3, 1, 1)
            self.conv_last = nn.Conv2d(num_feat, num_out_ch, 3, 1, 1)
            self.lrelu = nn.LeakyReLU(negative_slope=0.2, inplace=True)
        else:
            self.conv_last = nn.Conv2d(embed_dim, num_out_ch, 3, 1, 1)
        self.apply(self._init_weights)

    @staticmethod
    def _init_weights(module: nn.Module) -> None:
        if isinstance(module, nn.Linear):
            nn.init.trunc_normal_(module.weight, std=0.02)
            if module.bias is not None:
                nn.init.constant_(module.bias, 0)
        elif isinstance(module, nn.LayerNorm):
            nn.init.constant_(module.bias, 0)
            nn.init.constant_(module.weight, 1.0)

    def forward_features(self, x: torch.Tensor) -> torch.Tensor:
        b, c, h, w = x.shape
        x = self.patch_embed.norm(x.flatten(2).transpose(1, 2))
        for layer in self.layers:
            x = layer(x, h, w)
        return self.norm(x).transpose(1, 2).reshape(b, c, h, w)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        h, w = x.shape[2:]
        ws = self.window_size
        pad_h, pad_w = (ws - h % ws) % ws, (ws - w % ws) % ws
        x = F.pad(x, (0, pad_w, 0, pad_h), "reflect")
        mean = self.mean.type_as(x)
        x = (x - mean) * self.img_range
        if self.upsampler == "pixelshuffle":
            x = self.conv_first(x)
            x = self.conv_after_body(self.forward_features(x)) + x
            x = self.conv_last(self.upsample(self.conv_before_upsample(x)))
        elif self.upsampler == "pixelshuffledirect":
            x = self.conv_first(x)
            x = self.conv_after_body(self.forward_features(x)) + x
            x = self.upsample(x)
        elif self.upsampler == "nearest+conv":
            x = self.conv_first(x)
            x = self.conv_after_body(self.forward_features(x)) + x
            x = self.conv_before_upsample(x)
            x = self.lrelu(self.conv_up1(F.interpolate(x, scale_factor=2, mode="nearest")))
            if self.upscale == 4:
                x = self.lrelu(self.conv_up2(F.interpolate(x, scale_factor=2, mode="nearest")))
            x = self.conv_last(self.lrelu(self.conv_hr(x)))
        else:
            first = self.conv_first(x)
            res = self.conv_after_body(self.forward_features(first)) + first
            x = x + self.conv_last(res)
        x = x / self.img_range + mean
        return x[:, :, : h * self.upscale, : w * self.upscale]

    def hyper_parameters(self) -> dict:
        return {
            "num_in_ch": self.num_in_ch,
            "num_out_ch": self.num_out_ch,
            "embed_dim": self.embed_dim,
            "depths": list(self.depths),
            "num_heads": list(self.num_heads),
            "window_size": self.window_size,
            "mlp_ratio": self.mlp_ratio,
            "qkv_bias": self.qkv_bias,
            "upscale": self.upscale,
            "img_range": self.img_range,
            "upsampler": self.upsampler,
            "resi_connection": self.resi_connection,
            "num_feat": self.num_feat,
        }
