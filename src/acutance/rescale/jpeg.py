"""JPEG on the LR during training (torch), as MBRS does: a differentiable proxy mixed with the real codec.

- ``jpeg_proxy``: YCbCr (JFIF, full range), 4:2:0 chroma by 2x2 averaging, 8x8 block DCT, the standard
  quantisation tables scaled to the quality (IJG's rule), rounding replaced by the cubic
  ``round(x) + (x - round(x))^3`` (gradient everywhere, close to the real rounding), and back;
- ``jpeg_real``: OpenCV's encoder and decoder (libjpeg, 4:2:0) in the forward pass, identity gradient
  (straight-through), so the net sees the true artefacts and still trains through them.
"""

from __future__ import annotations

import math

import numpy as np
import torch
import torch.nn.functional as F

_LUMA = [16, 11, 10, 16, 24, 40, 51, 61, 12, 12, 14, 19, 26, 58, 60, 55, 14, 13, 16, 24, 40, 57, 69, 56,
         14, 17, 22, 29, 51, 87, 80, 62, 18, 22, 37, 56, 68, 109, 103, 77, 24, 35, 55, 64, 81, 104, 113, 92,
         49, 64, 78, 87, 103, 121, 120, 101, 72, 92, 95, 98, 112, 100, 103, 99]  # fmt: skip
_CHROMA = [17, 18, 24, 47, 99, 99, 99, 99, 18, 21, 26, 66, 99, 99, 99, 99, 24, 26, 56, 99, 99, 99, 99, 99,
           47, 66, 99, 99, 99, 99, 99, 99] + [99] * 32  # fmt: skip


def quant_table(base: list[int], quality: int) -> torch.Tensor:
    """IJG's quality scaling of a standard table (as libjpeg's ``jpeg_set_quality``)."""
    q = max(1, min(100, int(quality)))
    factor = 5000 / q if q < 50 else 200 - 2 * q
    table = np.clip(np.floor((np.array(base, dtype=np.float64) * factor + 50) / 100), 1, 255)
    return torch.tensor(table, dtype=torch.float32).reshape(8, 8)


def _dct_matrix() -> torch.Tensor:
    d = torch.zeros(8, 8)
    for k in range(8):
        for n in range(8):
            d[k, n] = (math.sqrt(1 / 8) if k == 0 else math.sqrt(2 / 8)) * math.cos(math.pi * (2 * n + 1) * k / 16)
    return d


_D = _dct_matrix()
_TO_YCC = torch.tensor([[0.299, 0.587, 0.114], [-0.168736, -0.331264, 0.5], [0.5, -0.418688, -0.081312]])
_TO_RGB = torch.linalg.inv(_TO_YCC)


def _soft_round(x: torch.Tensor) -> torch.Tensor:
    r = torch.round(x)
    return r + (x - r) ** 3


def _blocks(channel: torch.Tensor, table: torch.Tensor) -> torch.Tensor:
    """Quantise one N x 1 x H x W plane (H, W multiples of 8, values 0-255 centred) block by block."""
    n, _, h, w = channel.shape
    b = channel.reshape(n, h // 8, 8, w // 8, 8).permute(0, 1, 3, 2, 4)
    coef = _D @ b @ _D.T
    coef = _soft_round(coef / table) * table
    b = _D.T @ coef @ _D
    return b.permute(0, 1, 3, 2, 4).reshape(n, 1, h, w)


def jpeg_proxy(rgb: torch.Tensor, quality: int) -> torch.Tensor:
    """Differentiable JPEG of N x 3 x H x W RGB in [0, 1] (any size: edge-padded to whole 16x16 units)."""
    n, _, h, w = rgb.shape
    ph, pw = -h % 16, -w % 16
    x = F.pad(rgb, (0, pw, 0, ph), mode="replicate") * 255.0
    ycc = torch.einsum("ij,njhw->nihw", _TO_YCC, x)
    luma = ycc[:, :1] - 128
    chroma = F.avg_pool2d(ycc[:, 1:], 2)
    luma = _blocks(luma, quant_table(_LUMA, quality)) + 128
    chroma = torch.cat([_blocks(chroma[:, i : i + 1], quant_table(_CHROMA, quality)) for i in range(2)], 1)
    chroma = F.interpolate(chroma, scale_factor=2, mode="bilinear", align_corners=False)
    out = torch.einsum("ij,njhw->nihw", _TO_RGB, torch.cat([luma, chroma], 1)) / 255.0
    return out[:, :, :h, :w]


def jpeg_real(rgb: torch.Tensor, quality: int) -> torch.Tensor:
    """OpenCV JPEG of every image of the batch, straight-through (identity gradient)."""
    import cv2

    from acutance.contract import to_uint

    decoded = []
    for image in rgb.detach().clamp(0, 1).permute(0, 2, 3, 1).numpy():
        ok, data = cv2.imencode(".jpg", to_uint(np.ascontiguousarray(image[:, :, ::-1]), 8),
                                [cv2.IMWRITE_JPEG_QUALITY, int(quality)])  # fmt: skip
        decoded.append(cv2.imdecode(data, cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / 255.0)
    real = torch.from_numpy(np.ascontiguousarray(np.stack(decoded).transpose(0, 3, 1, 2)))
    return rgb + (real - rgb).detach()


def quantise(x: torch.Tensor) -> torch.Tensor:
    """8-bit levels in the forward pass, identity gradient (what an 8-bit PNG LR is)."""
    q = torch.round(x.clamp(0, 1) * 255) / 255
    return x + (q - x).detach()
