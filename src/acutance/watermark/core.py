"""Embedding and detection of the classical watermark: pure functions under the image contract.

Embedding adds the key's tile (``pattern``), repeated over the image, to the luma, scaled by a perceptual
mask (local contrast: flat areas carry less). Detection:

1. whitens the luma (high-pass, divided by the local contrast, which also undoes the mask);
2. finds the tile's lattice in the autocorrelation (scale, rotation, aspect change) and lists candidate
   geometries: the lattice's, the identity and a few common rescales;
3. for each candidate, warps the residual back and folds it onto one tile (averaging every period, which is
   where the robustness comes from), finds the crop offset by correlating with the reference pattern, and
   reads the coded bits at that offset;
4. Reed-Solomon + CRC decides (``payload``): a clean image passes with probability below
   ``false_positive_rate()``.

The decoder's per-bit outputs are posterior means E[bit] (tanh of the log-likelihood ratio, with the mark's
amplitude estimated from the reference peak above what noise alone reaches): about 0 on a clean image,
near +-1 on a marked one.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass, field

import cv2
import numpy as np

from acutance.contract import check_rgb
from acutance.errors import OptionError
from acutance.watermark import payload as code
from acutance.watermark.pattern import BAND, TILE, patterns

MIN_SIZE = 128  # one whole tile; geometry is recovered from two periods or more (256 pixels)
AMPLITUDE = 2.9 / 255  # RMS luma change at strength 1 (Y-PSNR about 40.3 dB)
# SSIM loss of the default mark at most this (the metric's SSIM >= 0.98 with room for 8-bit rounding)
SSIM_LOSS = 0.0195
_MASK_FLOOR = 2.0 / 255  # local contrast added to the mask, so flat areas still carry a little
_LATTICE_CANDIDATES = 2
# the coherent geometry search (when the autocorrelation shows no lattice): its range, crop and candidates
_SEARCH_DEGREES = 6.0
_SEARCH_SCALES = (0.5, 2.0)
_SEARCH_CROP = 512
_SEARCH_FRAMES = 8
_SEARCH_CANDIDATES = 2
_GRID_SIZE = 48 + 140 + 1  # geometries whose reference peak is looked at (rotations, scales, identity)
_RINGS = 4  # rings of the band in the matched filter
_CHASE_Z = 5.5  # reference z above which Chase decoding is tried (a clean image's peak is ~4)
_LUMA = np.array([0.299, 0.587, 0.114], np.float32)


@dataclass(frozen=True)
class Detection:
    """What ``detect`` found. ``found`` is True only for a valid codeword (CRC checked)."""

    found: bool
    payload: bytes | None
    p_value: float  # chance that an image without this key's mark gives a result at least this strong
    confidence: float  # 1 - p_value when a payload was read, else 0
    bits: np.ndarray = field(repr=False)  # posterior mean of each coded bit, in [-1, 1]
    reference_z: float = 0.0  # the reference peak, in noise standard deviations
    scale: float = 1.0  # the geometry used: scale and rotation (degrees) of the marked image
    angle: float = 0.0

    @property
    def text(self) -> str | None:
        if self.payload is None:
            return None
        try:
            return self.payload.decode("utf-8")
        except UnicodeDecodeError:
            return None


def false_positive_rate(candidates: int | None = None) -> float:
    """Analytic bound on the chance of a detection in an unmarked image: every geometry candidate, both
    profiles, every decoding attempt."""
    candidates = _max_candidates() if candidates is None else candidates
    per_candidate = sum(p.false_accept_bound() for p in code.PROFILES)
    return min(1.0, candidates * per_candidate)


def _max_candidates() -> int:
    # identity, lattice fits, searched geometries; several frames read each twice (coherent, aligned)
    return 2 * (1 + _LATTICE_CANDIDATES + _SEARCH_CANDIDATES)


def _check_size(rgb: np.ndarray) -> None:
    height, width = rgb.shape[:2]
    if height < MIN_SIZE or width < MIN_SIZE:
        raise OptionError(f"image too small for a watermark: {width}x{height}; the minimum is {MIN_SIZE}x{MIN_SIZE}")


def luma(rgb: np.ndarray) -> np.ndarray:
    return cv2.transform(np.ascontiguousarray(rgb, np.float32), _LUMA[None, :])


def perceptual_mask(y: np.ndarray) -> np.ndarray:
    """Local contrast (7x7 standard deviation) plus a floor, normalised to unit RMS."""
    mean = cv2.blur(y, (7, 7))
    var = np.maximum(cv2.blur(y * y, (7, 7)) - mean * mean, 0.0)
    mask = np.sqrt(var) + np.float32(_MASK_FLOOR)
    return mask / np.float32(np.sqrt(np.mean(mask * mask)))


def embed(rgb: np.ndarray, payload: bytes, key: str | int, strength: float = 1.0) -> np.ndarray:
    """Mark float32 HxWx3 RGB in [0, 1] with ``payload`` (at most ``payload.CAPACITY_BYTES`` bytes).

    strength: 1 is the default (Y-PSNR about 42 dB); the luma change scales linearly with it.
    """
    check_rgb(rgb)
    _check_size(rgb)
    if not (math.isfinite(strength) and 0 < strength <= 10):
        raise OptionError(f"strength must be in (0, 10], got {strength}")
    profile = code.profile_for(bytes(payload))
    tile = patterns(key, profile).tile(code.encode(bytes(payload), profile))
    height, width = rgb.shape[:2]
    wave = np.tile(tile, (-(-height // TILE), -(-width // TILE)))[:height, :width]
    y = luma(rgb)
    delta = wave * perceptual_mask(y) * np.float32(AMPLITUDE)
    delta *= np.float32(strength * ssim_guard(y, delta))
    return np.clip(rgb + delta[:, :, None], 0.0, 1.0)


def _ssim_y(y: np.ndarray, z: np.ndarray) -> float:
    """Mean SSIM of two lumas in [0, 1] (Wang et al.'s 11x11 Gaussian window, sigma 1.5), in OpenCV."""
    c1, c2 = np.float32(0.01**2), np.float32(0.03**2)
    blur = lambda a: cv2.GaussianBlur(a, (11, 11), 1.5)  # noqa: E731
    mu_y, mu_z = blur(y), blur(z)
    var_y, var_z, cov = blur(y * y) - mu_y * mu_y, blur(z * z) - mu_z * mu_z, blur(y * z) - mu_y * mu_z
    ssim = ((2 * mu_y * mu_z + c1) * (2 * cov + c2)) / ((mu_y * mu_y + mu_z * mu_z + c1) * (var_y + var_z + c2))
    return float(ssim[5:-5, 5:-5].mean())


def ssim_guard(y: np.ndarray, delta: np.ndarray) -> float:
    """The factor (<= 1) on the default mark that keeps its SSIM loss within SSIM_LOSS. On smooth images
    (sky, skin) the PSNR-sized mark costs more SSIM than on textured ones; for small changes the loss grows
    with the square of the amplitude, so one square root finds the factor (checked once more)."""
    factor = 1.0
    for _ in range(2):
        loss = 1.0 - _ssim_y(y, y + delta * np.float32(factor))
        if loss <= SSIM_LOSS:
            break
        factor *= math.sqrt(SSIM_LOSS / loss) * 0.995
    return factor


# --------------------------------------------------------------------------------------------- detection


def whiten(y: np.ndarray) -> np.ndarray:
    """High-pass luma divided by its local RMS: the image's own content flattened to about unit variance
    (measured: twice the per-bin SNR of the plain high-pass; the high-pass's radius matters little)."""
    residual = y - cv2.GaussianBlur(y, (0, 0), 3.0)
    local = np.sqrt(cv2.GaussianBlur(residual * residual, (0, 0), 3.0))
    return residual / (local + np.float32(1e-3))


def _autocorrelation(residuals: list[np.ndarray]) -> tuple[np.ndarray, tuple[int, int], tuple[int, int]]:
    """Band-limited autocorrelation of the residuals' central crop (at most 1024 square), zero-padded by half
    so that lags up to half the crop don't wrap; returned centred, with the centre and the crop's size."""
    height, width = residuals[0].shape
    crop_h, crop_w = min(height, 1024), min(width, 1024)
    y0, x0 = (height - crop_h) // 2, (width - crop_w) // 2
    size = (cv2.getOptimalDFTSize(crop_h * 3 // 2), cv2.getOptimalDFTSize(crop_w * 3 // 2))
    power = np.zeros((size[0], size[1] // 2 + 1))
    for residual in residuals:
        power += np.abs(np.fft.rfft2(residual[y0 : y0 + crop_h, x0 : x0 + crop_w], s=size)) ** 2
    radius = np.hypot(np.fft.fftfreq(size[0])[:, None], np.fft.rfftfreq(size[1])[None, :])
    power *= (radius > 0.02) & (radius < 0.45)
    acf = np.fft.fftshift(np.fft.irfft2(power, s=size)).astype(np.float32)
    return acf, (size[1] // 2, size[0] // 2), (crop_h, crop_w)


# lattice points scored and fitted: (i, j) multiples of the tile's axes
_ORDERS = np.array([(1, 0), (0, 1), (1, 1), (1, -1), (2, 0), (0, 2), (2, 1), (1, 2), (2, -1), (-1, 2)], float)


def _lattice(residuals: list[np.ndarray]) -> list[np.ndarray]:
    """Candidate 2x2 maps A (tile axes -> image pixels, as columns) from the autocorrelation's lattice.

    A grid search over scale and rotation scores each (s, theta) by the autocorrelation's peaks where the
    lattice points s R(theta) (i, j) TILE should be; the best few are then refined by least squares on the
    sub-pixel peaks (a general A: aspect change and shear too).
    """
    acf, (cx, cy), (crop_h, crop_w) = _autocorrelation(residuals)
    # peaks stand out of a smooth background; a light blur makes them wide enough for a coarse grid
    peaky = cv2.GaussianBlur(acf, (0, 0), 1.2) - cv2.GaussianBlur(acf, (0, 0), 6.0)
    scales = np.geomspace(0.45, 2.2, 240)  # steps of 0.7%: under 2 pixels at the second order
    angles = np.radians(np.linspace(-12, 12, 97))
    s, t = np.meshgrid(scales, angles, indexing="ij")
    cos, sin = (s * np.cos(t))[..., None], (s * np.sin(t))[..., None]
    i, j = _ORDERS[:, 0] * TILE, _ORDERS[:, 1] * TILE
    x = cos * i - sin * j  # rotation of (i, j) by theta (image y axis down: the same formula, mirrored angle)
    y = sin * i + cos * j
    usable = (np.abs(x) < 0.6 * crop_w) & (np.abs(y) < 0.6 * crop_h)
    samples = cv2.remap(
        peaky, (x + cx).astype(np.float32).reshape(-1, len(_ORDERS)), (y + cy).astype(np.float32).reshape(-1, len(_ORDERS)),
        cv2.INTER_LINEAR, borderMode=cv2.BORDER_CONSTANT, borderValue=0,
    ).reshape(x.shape)
    count = usable.sum(axis=-1)
    valid = count >= 3
    if not valid.any():
        return []
    score = np.where(valid, (samples * usable).sum(axis=-1) / np.maximum(count, 1), 0).astype(np.float32)
    score[~valid] = score[valid].min()
    # local maxima of the score, best first
    peaks = (score == cv2.dilate(score, np.ones((5, 5), np.uint8))) & valid
    order = np.argsort(-np.where(peaks, score, -np.inf), axis=None)[:_LATTICE_CANDIDATES]
    maps = []
    for index in order:
        a, b = np.unravel_index(index, score.shape)
        if not peaks[a, b]:
            continue
        matrix = scales[a] * np.array([[np.cos(angles[b]), -np.sin(angles[b])], [np.sin(angles[b]), np.cos(angles[b])]])
        maps.append(_refine(acf, (cx, cy), (crop_h, crop_w), matrix))
    return maps


def _refine(acf: np.ndarray, centre: tuple[int, int], crop: tuple[int, int], matrix: np.ndarray) -> np.ndarray:
    """Least squares A from the sub-pixel autocorrelation peaks near A (i, j) TILE, nearest orders first, so
    that each fit predicts the next, longer lag (whose peak pins the lattice down more finely)."""
    cx, cy = centre
    orders = [(i, j) for i in range(-4, 5) for j in range(-4, 5) if (i, j) != (0, 0)]
    orders.sort(key=lambda ij: np.hypot(*ij))
    rows, targets = [], []
    for i, j in orders:
        guess = matrix @ (np.array([i, j], float) * TILE)
        if abs(guess[0]) > 0.6 * crop[1] or abs(guess[1]) > 0.6 * crop[0]:
            continue
        x, y = int(round(guess[0] + cx)), int(round(guess[1] + cy))
        if not (3 <= y < acf.shape[0] - 3 and 3 <= x < acf.shape[1] - 3):
            continue
        window = acf[y - 2 : y + 3, x - 2 : x + 3]
        dy, dx = np.unravel_index(np.argmax(window), window.shape)
        y, x = y + dy - 2, x + dx - 2
        rows.append((i * TILE, j * TILE))
        targets.append((x + _parabola(acf[y, x - 1 : x + 2]) - cx, y + _parabola(acf[y - 1 : y + 2, x]) - cy))
        if len(rows) >= 4:
            solution, *_ = np.linalg.lstsq(np.array(rows, float), np.array(targets, float), rcond=None)
            matrix = solution.T
    return matrix


def _parabola(values: np.ndarray) -> float:
    """Sub-sample offset of a peak from its two neighbours (a parabola through three samples)."""
    left, middle, right = (float(v) for v in values)
    denominator = left - 2 * middle + right
    return 0.0 if denominator >= 0 else 0.5 * (left - right) / denominator


def _rotation(scale: float, degrees: float) -> np.ndarray:
    t = np.radians(degrees)
    return scale * np.array([[np.cos(t), -np.sin(t)], [np.sin(t), np.cos(t)]])


def _reference_z(spectrum: np.ndarray, reference: np.ndarray) -> float:
    surface = np.fft.irfft2(spectrum * np.conj(reference), s=(TILE, TILE))
    median = np.median(surface)
    return float((surface.max() - median) / (1.4826 * np.median(np.abs(surface - median)) + 1e-30))


def _search(residuals: list[np.ndarray], reference: np.ndarray, looks: list[int]) -> list[np.ndarray]:
    """Geometry by coherent search, for images too small for the autocorrelation to show the lattice: the
    reference's correlation peak over a grid of rotations (at scale 1) and of scales (at no rotation), on a
    central crop, then the best few refined by coordinate steps. Coherent detection grows with the mark's
    amplitude where the autocorrelation grows with its square, so it works on much smaller images.
    ``looks[0]`` counts the geometries examined (the no-mark p-value's multiplicity)."""
    crops = []
    for residual in residuals[:_SEARCH_FRAMES]:
        height, width = residual.shape
        h, w = min(height, _SEARCH_CROP), min(width, _SEARCH_CROP)
        y0, x0 = (height - h) // 2, (width - w) // 2
        crops.append(residual[y0 : y0 + h, x0 : x0 + w])

    def z_of(scale: float, degrees: float) -> float:
        looks[0] += 1
        return _reference_z(sum(np.fft.rfft2(_fold(c, _rotation(scale, degrees))) for c in crops), reference)

    grid = [(1.0, float(d)) for d in np.arange(-_SEARCH_DEGREES, _SEARCH_DEGREES + 1e-9, 0.25) if d != 0]
    grid += [(float(sc), 0.0) for sc in np.geomspace(_SEARCH_SCALES[0], _SEARCH_SCALES[1], 141) if abs(sc - 1) > 1e-3]
    scored = sorted(((z_of(*g), g) for g in grid), reverse=True)
    found = []
    for z, (scale, degrees) in scored[:_SEARCH_CANDIDATES]:
        for step_s, step_d in ((0.004, 0.12), (0.002, 0.06), (0.001, 0.03)):
            for _ in range(3):
                moves = [(scale * (1 + i * step_s), degrees + j * step_d) for i in (-1, 0, 1) for j in (-1, 0, 1)]
                best_z, best = max((z_of(*m), m) for m in moves)
                if best == (scale, degrees) or best_z <= z:
                    break
                z, (scale, degrees) = best_z, best
        found.append(_rotation(scale, degrees))
    return found


def _plausible(matrix: np.ndarray) -> bool:
    """A geometry worth trying: finite, not mirrored, scales within the search's range, not degenerate."""
    if not np.all(np.isfinite(matrix)):
        return False
    singular = np.linalg.svd(matrix, compute_uv=False)
    return bool(np.linalg.det(matrix) > 0 and singular[1] > 0.4 and singular[0] < 2.5 and singular[0] < 2 * singular[1])


def _fold(residual: np.ndarray, matrix: np.ndarray) -> np.ndarray:
    """The residual warped back by ``matrix`` (tile -> image) and averaged onto one TILE x TILE period."""
    height, width = residual.shape
    if not np.allclose(matrix, np.eye(2)):
        inverse = np.linalg.inv(matrix)
        corners = inverse @ np.array([[0, width, 0, width], [0, 0, height, height]], float)
        origin = corners.min(axis=1)
        out_w, out_h = np.ceil(corners.max(axis=1) - origin).astype(int)
        affine = np.hstack([matrix, (matrix @ origin)[:, None]])
        residual = cv2.warpAffine(
            residual, affine, (int(out_w), int(out_h)), flags=cv2.INTER_LINEAR | cv2.WARP_INVERSE_MAP,
            borderMode=cv2.BORDER_CONSTANT, borderValue=0,
        )
        height, width = residual.shape
    padded = np.zeros((-(-height // TILE) * TILE, -(-width // TILE) * TILE), np.float32)
    padded[:height, :width] = residual
    return padded.reshape(padded.shape[0] // TILE, TILE, padded.shape[1] // TILE, TILE).sum(axis=(0, 2))


def _read(spectrum: np.ndarray, pat) -> tuple[float, np.ndarray, np.ndarray]:
    """(reference z, posterior mean of each bit, soft values for decoding) of a folded tile's spectrum."""
    # c(shift) = sum over the used bins of Re(F conj(R) e^(2 pi i k shift / TILE)); irfft2 gives 2 c / TILE^2
    surface = np.fft.irfft2(spectrum * np.conj(pat.reference), s=(TILE, TILE)) * (TILE * TILE / 2)
    shift = np.unravel_index(np.argmax(surface), surface.shape)
    median = float(np.median(surface))
    noise = 1.4826 * float(np.median(np.abs(surface - median))) + 1e-20
    peak = float(surface[shift]) - median
    ky = np.fft.fftfreq(TILE)[:, None] * TILE
    kx = np.fft.rfftfreq(TILE)[None, :] * TILE
    corrected = spectrum * np.exp(2j * np.pi * (ky * shift[0] + kx * shift[1]) / TILE)
    # matched filter by ring: weight each bin by the mark's gain there (read off the reference bins) over
    # the noise power there (the median power of the ring's bins), so bins an attack wiped out count little
    ring = np.minimum((np.hypot(ky, kx) / TILE - BAND[0]) / (BAND[1] - BAND[0]) * _RINGS, _RINGS - 1).astype(int)
    ref_mask = np.abs(pat.reference) > 0
    gain_by_ring = np.zeros(_RINGS)
    noise_by_ring = np.ones(_RINGS)
    correlation = np.real(corrected * np.conj(pat.reference))
    for r in range(_RINGS):
        in_ring = pat.band_mask & (ring == r)
        noise_by_ring[r] = np.median(np.abs(corrected[in_ring]) ** 2) + 1e-20
        gain_by_ring[r] = max(correlation[in_ring & ref_mask].mean(), 0.0)
    weight_by_ring = gain_by_ring / noise_by_ring
    weight_by_ring /= weight_by_ring.max() + 1e-30
    rows, cols = pat.bit_rows, pat.bit_cols
    weights = weight_by_ring[ring[rows, cols]] if weight_by_ring.any() else 1.0
    per_bin = np.real(corrected[rows, cols] * np.conj(pat.bit_phases))
    soft = (per_bin * weights).sum(axis=1)
    # posterior mean of each bit, tanh(LLR / 2), with the mark's gain taken as what the reference peak
    # shows above the largest peak noise alone reaches over every offset and geometry a detection looks at
    # (so a clean image gives ~0)
    excess = max(0.0, peak - noise * math.sqrt(2 * math.log(_GRID_SIZE * TILE * TILE)))
    bits = np.tanh(np.clip(excess * pat.payload_scale * per_bin.sum(axis=1) / noise**2, -50, 50))
    return peak / noise, bits.astype(np.float32), soft


def _offset(spectrum: np.ndarray, reference: np.ndarray) -> tuple[tuple[int, int], float]:
    """Where the reference sits in a folded tile's spectrum (cyclic offset), and its peak z there."""
    surface = np.fft.irfft2(spectrum * np.conj(reference), s=(TILE, TILE))
    shift = np.unravel_index(np.argmax(surface), surface.shape)
    median = np.median(surface)
    z = (surface[shift] - median) / (1.4826 * np.median(np.abs(surface - median)) + 1e-30)
    return (int(shift[0]), int(shift[1])), float(z)


def _aligned(spectra: list[np.ndarray], reference: np.ndarray) -> np.ndarray | None:
    """The frames' folded spectra summed after moving each one's mark to offset 0, or None when that would
    change nothing.

    A codec drags the mark along with the picture's motion: a P-frame copies its blocks, mark included, from
    where the content was in the frame it predicts from, and at CRF 28 the small correction back is quantised
    away. On a pan the mark then drifts by the pan's motion frame after frame until the next I-frame, and a
    plain sum of the frames blurs it out. Each frame is moved by its own reference offset where its peak
    alone shows a mark (z above ``_CHASE_Z``); a weaker frame takes its nearest strong frame's offset.
    """
    found = [_offset(spectrum, reference) for spectrum in spectra]
    strong = np.flatnonzero([z > _CHASE_Z for _, z in found])
    if strong.size == 0 or len({found[i][0] for i in strong}) == 1:
        return None
    ky = np.fft.fftfreq(TILE)[:, None] * TILE
    kx = np.fft.rfftfreq(TILE)[None, :] * TILE
    total = np.zeros_like(spectra[0])
    for i, spectrum in enumerate(spectra):
        dy, dx = found[strong[np.argmin(np.abs(strong - i))]][0]
        total += spectrum * np.exp(2j * np.pi * (ky * dy + kx * dx) / TILE)
    return total


def detect_many(images: list[np.ndarray], key: str | int) -> Detection:
    """Detect one mark in several images of the same size and geometry (video frames): their folds add up,
    as they are and, when the mark moved between frames (``_aligned``), moved back into line."""
    if not images:
        raise OptionError("no images to detect a watermark in")
    for rgb in images:
        check_rgb(rgb)
        _check_size(rgb)
    return detect_residuals([residual_of(rgb) for rgb in images], key)


def residual_of(rgb: np.ndarray) -> np.ndarray:
    """What detection looks at in one image: its whitened luma (float32 HxW), a third of the RGB's size."""
    return whiten(luma(rgb))


def detect_residuals(residuals: list[np.ndarray], key: str | int) -> Detection:
    """``detect_many`` on the images' ``residual_of`` (for a caller that keeps residuals, not frames)."""
    best: Detection | None = None
    looks = [0]
    p_found = false_positive_rate()  # bound over every candidate a detection may try

    def candidates():
        yield np.eye(2)
        yield from _lattice(residuals)
        yield from _search(residuals, patterns(key, code.SHORT).reference, looks)

    for matrix in filter(_plausible, candidates()):
        looks[0] += 1
        spectra = [np.fft.rfft2(_fold(residual, matrix)) for residual in residuals]
        spectrum = sum(spectra)
        scale = float(np.sqrt(abs(np.linalg.det(matrix))))
        angle = float(np.degrees(np.arctan2(matrix[1, 0], matrix[0, 0])))
        for profile in code.PROFILES:
            z, bits, soft = _read(spectrum, patterns(key, profile))
            # Chase decoding costs 2^chase_bits BCH decodes: only where the reference shows a mark
            message = code.decode(soft, profile, chase=z > _CHASE_Z)
            if message is not None:
                return Detection(True, message, p_found, 1 - p_found, bits, z, scale, angle)
            if best is None or z > best.reference_z:
                best = Detection(False, None, 1.0, 0.0, bits, z, scale, angle)
        aligned = _aligned(spectra, patterns(key, code.SHORT).reference) if len(spectra) > 1 else None
        for profile in code.PROFILES if aligned is not None else ():
            # decoded only: the offsets were chosen by the reference, so its peak here is not a p-value (the
            # bits are orthogonal to it, so the codeword bound holds); some frame alone showed a mark: Chase
            z, bits, soft = _read(aligned, patterns(key, profile))
            message = code.decode(soft, profile, chase=True)
            if message is not None:
                return Detection(True, message, p_found, 1 - p_found, bits, z, scale, angle)
    assert best is not None
    # no codeword: the p-value of the best reference peak alone (any of TILE^2 offsets, any geometry looked at)
    p_value = min(1.0, looks[0] * TILE * TILE * 0.5 * math.erfc(best.reference_z / math.sqrt(2)))
    # confidence is that a valid mark was read: none was, so 0 (the p-value still says how unusual the
    # reference peak is, e.g. a mark too damaged to read)
    return dataclasses.replace(best, p_value=p_value, confidence=0.0)


def detect(rgb: np.ndarray, key: str | int) -> Detection:
    """Detect and read the mark of ``key`` in float32 HxWx3 RGB."""
    return detect_many([rgb], key)
