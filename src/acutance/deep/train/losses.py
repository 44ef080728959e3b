"""Losses of ``acutance train sr``. Tensors are ``N x C x H x W`` in [0, 1]."""

from __future__ import annotations

import torch
from torch.nn import functional as F


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float = 1e-3) -> torch.Tensor:
    """A differentiable L1: sqrt(d^2 + eps^2), averaged."""
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def pixel_loss(kind: str, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    return charbonnier(pred, target) if kind == "charbonnier" else F.l1_loss(pred, target)


def gradient_weight(target: torch.Tensor, strength: float = 4.0) -> torch.Tensor:
    """CDC-style weights: 1 on flat areas, up to 1 + strength on the strongest edges of the target."""
    gray = target.mean(dim=1, keepdim=True)
    gx = F.pad(gray[..., :, 1:] - gray[..., :, :-1], (0, 1, 0, 0))
    gy = F.pad(gray[..., 1:, :] - gray[..., :-1, :], (0, 0, 0, 1))
    magnitude = torch.sqrt(gx * gx + gy * gy + 1e-12)
    peak = magnitude.amax(dim=(2, 3), keepdim=True).clamp_min(1e-6)
    return 1.0 + strength * magnitude / peak


def cdc_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Gradient-weighted L1 (CDC): flat areas no longer dominate the average."""
    weight = gradient_weight(target)
    return (weight * (pred - target).abs()).sum() / (weight.sum() * pred.shape[1])


def fft_loss(pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """L1 between the 2-D spectra (real and imaginary parts), normalised per pixel: keeps high frequencies."""
    a = torch.fft.rfft2(pred, norm="ortho")
    b = torch.fft.rfft2(target, norm="ortho")
    return (torch.view_as_real(a) - torch.view_as_real(b)).abs().mean()


def relativistic_g_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Generator side of the relativistic average GAN (ESRGAN): fakes should look more real than the reals."""
    real_rel = real_logits - fake_logits.mean()
    fake_rel = fake_logits - real_logits.mean()
    return 0.5 * (
        F.binary_cross_entropy_with_logits(real_rel, torch.zeros_like(real_rel))
        + F.binary_cross_entropy_with_logits(fake_rel, torch.ones_like(fake_rel))
    )


def relativistic_d_loss(real_logits: torch.Tensor, fake_logits: torch.Tensor) -> torch.Tensor:
    """Discriminator side: reals more real than the average fake, fakes less real than the average real."""
    real_rel = real_logits - fake_logits.mean()
    fake_rel = fake_logits - real_logits.mean()
    return 0.5 * (
        F.binary_cross_entropy_with_logits(real_rel, torch.ones_like(real_rel))
        + F.binary_cross_entropy_with_logits(fake_rel, torch.zeros_like(fake_rel))
    )
