"""Blur kernels of the Real-ESRGAN degradation model, and filtering an image with one.

Coordinates: ``x`` runs along columns (to the right), ``y`` along rows (down); a kernel of odd size ``k``
is centred on pixel ``(k - 1) / 2``. An anisotropic kernel with ``sigma_x > sigma_y`` rotated by ``theta``
has its long (principal) axis along ``(cos theta, sin theta)`` in these coordinates. Every kernel is float32
and sums to 1.
"""

from __future__ import annotations

import math
import threading

import cv2
import numpy as np

from acutance.errors import OptionError

KERNEL_TYPES = ("iso", "aniso", "generalized_iso", "generalized_aniso", "plateau_iso", "plateau_aniso")


def _check_size(size: int) -> int:
    if not isinstance(size, (int, np.integer)) or size < 1 or size % 2 == 0:
        raise OptionError(f"kernel size must be an odd positive integer, got {size!r}")
    return int(size)


def _check_sigma(name: str, value: float) -> float:
    if not (math.isfinite(value) and value > 0):
        raise OptionError(f"{name} must be a positive number, got {value!r}")
    return float(value)


def _quadratic_form(size: int, sigma_x: float, sigma_y: float, theta: float) -> np.ndarray:
    """``d^T S^-1 d`` on the kernel grid, S = R diag(sigma_x^2, sigma_y^2) R^T with R the rotation by theta."""
    size = _check_size(size)
    sigma_x = _check_sigma("sigma_x", sigma_x)
    sigma_y = _check_sigma("sigma_y", sigma_y)
    half = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - half
    c, s = math.cos(theta), math.sin(theta)
    # Coordinates in the kernel's own frame: u along the principal axis, v across it.
    u = c * x + s * y
    v = -s * x + c * y
    return (u / sigma_x) ** 2 + (v / sigma_y) ** 2


def _normalise(kernel: np.ndarray) -> np.ndarray:
    return (kernel / kernel.sum()).astype(np.float32)


def gaussian_kernel(size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0) -> np.ndarray:
    """Gaussian kernel; isotropic when ``sigma_y`` is None (or equal to ``sigma_x``)."""
    q = _quadratic_form(size, sigma_x, sigma_x if sigma_y is None else sigma_y, theta)
    return _normalise(np.exp(-0.5 * q))


def generalized_gaussian_kernel(
    size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0, beta: float = 1.0
) -> np.ndarray:
    """``exp(-0.5 * q ** beta)``: beta < 1 gives heavy tails, beta > 1 a flatter top (beta = 1 is Gaussian)."""
    if not (math.isfinite(beta) and beta > 0):
        raise OptionError(f"beta must be a positive number, got {beta!r}")
    q = _quadratic_form(size, sigma_x, sigma_x if sigma_y is None else sigma_y, theta)
    return _normalise(np.exp(-0.5 * np.power(q, beta)))


def plateau_kernel(
    size: int, sigma_x: float, sigma_y: float | None = None, theta: float = 0.0, beta: float = 1.0
) -> np.ndarray:
    """``1 / (1 + q ** beta)``: a flat top with polynomial tails (the 'plateau' of Real-ESRGAN)."""
    if not (math.isfinite(beta) and beta > 0):
        raise OptionError(f"beta must be a positive number, got {beta!r}")
    q = _quadratic_form(size, sigma_x, sigma_x if sigma_y is None else sigma_y, theta)
    return _normalise(1.0 / (1.0 + np.power(q, beta)))


def bessel_j1(x: np.ndarray) -> np.ndarray:
    """Bessel function of the first kind, order 1 (numpy has none and scipy is not a dependency).

    Bessel's integral ``J1(x) = 1/(2 pi) * integral over one period of cos(t - x sin t) dt`` has a periodic
    integrand, so the trapezoid rule converges exponentially; 256 nodes are exact to ~1e-15 for |x| < 100,
    which covers every radius times cutoff of a kernel up to 41x41.
    """
    x = np.asarray(x, dtype=np.float64)
    t = np.linspace(-math.pi, math.pi, 256, endpoint=False)
    return np.cos(t[None, :] - x.reshape(-1, 1) * np.sin(t)[None, :]).mean(axis=1).reshape(x.shape)


def sinc_kernel(size: int, cutoff: float) -> np.ndarray:
    """Circular ideal low-pass (2D 'sinc') kernel with cutoff frequency ``cutoff`` in radians per pixel.

    The impulse response of a disc of radius ``cutoff`` in the frequency plane is
    ``cutoff * J1(cutoff r) / (2 pi r)`` (value ``cutoff^2 / (4 pi)`` at r = 0); truncated to ``size`` it rings,
    which is the point: it imitates the ringing and overshoot of sharpened, resampled real images.
    """
    size = _check_size(size)
    if not (math.isfinite(cutoff) and 0 < cutoff <= math.pi):
        raise OptionError(f"sinc cutoff must be in (0, pi], got {cutoff!r}")
    half = (size - 1) / 2.0
    y, x = np.mgrid[0:size, 0:size].astype(np.float64) - half
    radius = np.hypot(x, y)
    # Evaluate J1 once per distinct radius: a 21x21 kernel has 66 of them, not 441.
    radii, inverse = np.unique(radius, return_inverse=True)
    with np.errstate(divide="ignore", invalid="ignore"):
        values = cutoff * bessel_j1(cutoff * radii) / (2.0 * math.pi * radii)
    values[radii == 0] = cutoff**2 / (4.0 * math.pi)
    return _normalise(values[inverse].reshape(size, size))


def make_kernel(kind: str, size: int, **params: float) -> np.ndarray:
    """Build a kernel from its recorded parameters (``kind`` is a KERNEL_TYPES name or 'sinc')."""
    if kind == "sinc":
        return sinc_kernel(size, params["cutoff"])
    if kind not in KERNEL_TYPES:
        raise OptionError(f"unknown kernel type {kind!r}; choose one of {', '.join(KERNEL_TYPES + ('sinc',))}")
    sigma_x, sigma_y, theta = params["sigma_x"], params["sigma_y"], params["theta"]
    if kind in ("iso", "aniso"):
        return gaussian_kernel(size, sigma_x, sigma_y, theta)
    if kind.startswith("generalized"):
        return generalized_gaussian_kernel(size, sigma_x, sigma_y, theta, params["beta"])
    return plateau_kernel(size, sigma_x, sigma_y, theta, params["beta"])


# Above this kernel size direct filtering costs more than a DFT (OpenCV's filter2D slows ~10x at 13x13).
_DFT_FROM_SIZE = 13


def _separable(kernel: np.ndarray) -> tuple[np.ndarray, np.ndarray] | None:
    """``(column, row)`` 1D kernels if ``kernel`` is their outer product to float precision (isotropic
    Gaussians are), else None."""
    u, s, vt = np.linalg.svd(kernel.astype(np.float64))
    if s[0] <= 0 or (len(s) > 1 and s[1] > 1e-7 * s[0]):
        return None
    root = math.sqrt(s[0])
    sign = 1.0 if u[:, 0].sum() >= 0 else -1.0
    return (sign * root * u[:, 0]).astype(np.float32), (sign * root * vt[0]).astype(np.float32)


_WORKSPACE = threading.local()
_CACHED_PLANE_MAX = 1 << 21  # elements (8 MB): bigger planes (large photos) are allocated per call


def _buffers(shape: tuple[int, int]) -> dict[str, np.ndarray]:
    """Per-thread DFT planes reused between calls: fresh 1 MB arrays cost page faults that, on a loaded
    machine, took longer than the transforms themselves. A few recent shapes are kept (the rounds of one
    degradation work at different sizes)."""
    def fresh() -> dict[str, np.ndarray]:
        return {name: np.zeros(shape, np.float32) for name in ("plane", "taps", "a", "b")}

    if shape[0] * shape[1] > _CACHED_PLANE_MAX:
        return fresh()
    cache = getattr(_WORKSPACE, "cache", None)
    if cache is None:
        cache = _WORKSPACE.cache = {}
    if shape not in cache:
        if len(cache) >= 4:
            cache.pop(next(iter(cache)))
        cache[shape] = fresh()
    return cache[shape]


def _filter_dft(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Linear filtering through one real DFT: the channels, each mirror-padded, stacked as one plane.

    Each channel's padded block is as tall as the kernel needs, so the circular wrap of the DFT only touches
    rows and columns that are cropped away.
    """
    size = kernel.shape[0]
    pad = size // 2
    height, width, channels = image.shape
    block_h, block_w = height + 2 * pad, width + 2 * pad
    used_h = channels * block_h
    work = _buffers((cv2.getOptimalDFTSize(used_h), cv2.getOptimalDFTSize(block_w)))
    plane, taps = work["plane"], work["taps"]
    padded = cv2.copyMakeBorder(image, pad, pad, pad, pad, cv2.BORDER_REFLECT_101).reshape(block_h, block_w, channels)
    plane[:used_h, :block_w] = padded.transpose(2, 0, 1).reshape(used_h, block_w)
    plane[used_h:] = 0.0
    plane[:used_h, block_w:] = 0.0
    taps.fill(0.0)
    taps[:size, :size] = kernel
    spectrum = cv2.dft(plane, dst=work["a"])
    cv2.mulSpectrums(spectrum, cv2.dft(taps, dst=work["b"]), 0, c=spectrum)  # in place: element-wise
    full = cv2.idft(spectrum, dst=plane, flags=cv2.DFT_SCALE | cv2.DFT_REAL_OUTPUT)
    # Output pixel (y, x) of the linear convolution sits at (y + 2 pad, x + 2 pad) of each padded block.
    blocks = full[:used_h, :block_w].reshape(channels, block_h, block_w)
    return np.ascontiguousarray(blocks[:, 2 * pad :, 2 * pad :][:, :height, :width].transpose(1, 2, 0))


def filter_image(image: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """Filter an HxWxC float32 image with a square odd ``kernel``, mirroring the border (Real-ESRGAN's reflect
    padding, i.e. OpenCV's BORDER_REFLECT_101).

    The result is the same (to float32 rounding, ~1e-7) whichever way it is computed; the way is chosen for
    speed: two 1D passes for a separable kernel, direct filtering for small kernels, a DFT for large ones.
    Every kernel here is point-symmetric, so correlation (what OpenCV computes) equals convolution.
    """
    kernel = np.asarray(kernel, dtype=np.float32)
    image = np.ascontiguousarray(image, dtype=np.float32)
    if image.ndim == 2:
        return filter_image(image[:, :, None], kernel)[:, :, 0]
    border = cv2.BORDER_REFLECT_101
    if min(image.shape[:2]) < 2:  # nothing to mirror: replicate the single row or column
        border = cv2.BORDER_REPLICATE
    pair = _separable(kernel)
    if pair is not None:
        out = cv2.sepFilter2D(image, -1, pair[1], pair[0], borderType=border)
    elif kernel.shape[0] >= _DFT_FROM_SIZE and border == cv2.BORDER_REFLECT_101:
        out = _filter_dft(image, kernel)
    else:
        out = cv2.filter2D(image, -1, kernel, borderType=border)
    return out.reshape(image.shape)
