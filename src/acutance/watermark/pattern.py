"""The key-seeded watermark tile: a reference pattern and one pattern per coded bit, in the Fourier domain.

A ``TILE`` x ``TILE`` luma pattern is repeated over the whole image. Repetition is what makes the mark
survive geometry: any crop of two or more periods still holds whole periods (their phase gives the crop
offset), and the periodicity shows as a lattice of peaks in the autocorrelation, whose spacing and angle give
the scale and rotation (Kutter's self-referencing watermark). The frequency bins of one mid-band annulus of
the tile's spectrum are dealt out by the key: a share to the reference (used to find the offset and to tell
marked from clean), the rest to the coded bits, each bit owning its bins with key-random phases, so every
pattern is exactly orthogonal to every other.

The band (``BAND`` in cycles per pixel) is chosen to survive a 0.5x downscale (the top becomes 0.4 cycles per
pixel, still below Nyquist) and JPEG's quantisation of the high frequencies, while staying above the low
frequencies where image content is strongest.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from acutance.watermark.payload import Profile

TILE = 128
BAND = (0.10, 0.25)
REFERENCE_SHARE = 0.18  # of the annulus's bins, and of the mark's power


@dataclass(frozen=True)
class Patterns:
    """The spectra (``rfft2`` layout, TILE x TILE//2+1) of one key's tile."""

    reference: np.ndarray  # complex64: the reference pattern's bins, zero elsewhere
    bit_rows: np.ndarray  # int: (code bits, per_bit) row index of each bit's bins
    bit_cols: np.ndarray  # int: the matching column index
    bit_phases: np.ndarray  # complex64: (code bits, per_bit) unit phasors
    band_mask: np.ndarray  # bool: every bin the mark uses
    payload_scale: float  # amplitude of a payload bin relative to a reference bin (equal power shares)

    def tile(self, bits: np.ndarray, reference_gain: float = 1.0) -> np.ndarray:
        """The spatial TILE x TILE pattern for coded bits (+-1), unit RMS."""
        spectrum = self.reference * np.float32(reference_gain)
        spectrum[self.bit_rows, self.bit_cols] = self.bit_phases * (bits[:, None] * self.payload_scale).astype(np.float32)
        pattern = np.fft.irfft2(spectrum, s=(TILE, TILE)).astype(np.float32)
        return pattern / np.float32(np.sqrt(np.mean(pattern**2)))


def key_seed(key: str | int) -> int:
    """A 64-bit seed from any key (SHA-256 of its text), so similar keys give unrelated patterns."""
    return int.from_bytes(hashlib.sha256(str(key).encode("utf-8")).digest()[:8], "little")


def band_bins(size: int = TILE) -> tuple[np.ndarray, np.ndarray]:
    """Row/column indices (rfft2 layout) of the annulus, each conjugate pair once.

    Columns 0 and TILE/2 are left out: their bins are their own conjugate partners' columns, so every used bin
    stands for exactly two bins of the full spectrum.
    """
    fy = np.fft.fftfreq(size)[:, None]
    fx = np.fft.rfftfreq(size)[None, :]
    radius = np.hypot(fy, fx)
    inside = (radius >= BAND[0]) & (radius <= BAND[1])
    inside[:, 0] = False
    inside[:, -1] = False
    return np.nonzero(inside)


@lru_cache(maxsize=16)
def patterns(key: str | int, profile: Profile) -> Patterns:
    """The key's reference (the same for every profile) and the profile's bit patterns."""
    rng = np.random.default_rng(key_seed(key))
    rows, cols = band_bins()
    order = rng.permutation(rows.size)
    n_reference = int(round(REFERENCE_SHARE * rows.size))
    n_bits = profile.code_bits
    per_bit = (rows.size - n_reference) // n_bits
    ref_idx = order[:n_reference]
    reference = np.zeros((TILE, TILE // 2 + 1), np.complex64)
    reference[rows[ref_idx], cols[ref_idx]] = np.exp(2j * np.pi * rng.random(n_reference)).astype(np.complex64)
    # the payload's own stream: a profile's bins and phases don't depend on the other profile's
    rng = np.random.default_rng([key_seed(key), n_bits])
    bit_idx = n_reference + rng.permutation(rows.size - n_reference)[: per_bit * n_bits].reshape(n_bits, per_bit)
    bit_idx = order[bit_idx]
    phases = np.exp(2j * np.pi * rng.random((n_bits, per_bit))).astype(np.complex64)
    band = np.zeros(reference.shape, bool)
    band[rows, cols] = True
    payload_scale = float(np.sqrt((1 - REFERENCE_SHARE) / REFERENCE_SHARE * n_reference / bit_idx.size))
    return Patterns(reference, rows[bit_idx], cols[bit_idx], phases, band, payload_scale)
