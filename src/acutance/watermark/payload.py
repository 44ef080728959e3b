"""Payload <-> coded bits: a length byte, the message, a CRC-16, and BCH parity (``bchlib``, the Linux
kernel's BCH library).

BCH corrects ``t`` wrong *bits* anywhere in the codeword, which is what a spread-spectrum channel produces
(independent bit errors, not bursts); Chase decoding on top retries with the least reliable bits flipped.
Two profiles: ``SHORT`` (up to 8 bytes, e.g. a 64-bit id: fewer coded bits, so each gets more of the mark's
energy and survives harder attacks) and ``LONG`` (up to 24 bytes: a short URL or a sentence). The embedder
picks the shorter one that fits; the detector tries both. Within a profile the codeword has a fixed length,
so the decoder needs no side information; a shorter message is zero-padded and its length byte says where
it ends. The CRC guards against BCH landing on a wrong codeword, which is what a clean image's noise would
otherwise sometimes give.
"""

from __future__ import annotations

import binascii
from dataclasses import dataclass
from functools import cached_property
from math import comb, log2

import bchlib
import numpy as np

from acutance.errors import OptionError


@dataclass(frozen=True)
class Profile:
    name: str
    capacity: int  # message bytes
    t: int  # bit errors BCH corrects
    m: int  # BCH field: GF(2^m), codewords up to 2^m - 1 bits
    chase_bits: int = 10  # Chase decoding: every flip pattern of this many least reliable bits is tried

    @cached_property
    def codec(self) -> bchlib.BCH:
        return bchlib.BCH(self.t, m=self.m)

    @property
    def data_bytes(self) -> int:
        return 1 + self.capacity + 2  # length, message, CRC-16

    @property
    def parity_bits(self) -> int:
        return self.codec.ecc_bits

    @property
    def code_bits(self) -> int:
        return 8 * self.data_bytes + self.parity_bits

    def false_accept_bound(self) -> float:
        """Upper bound on the chance that ``decode`` of random soft values yields a valid message: per
        attempt, the fraction of words within t bits of a codeword, V(n, t) / 2^parity, times the CRC's
        2^-16; times the attempts (plain, then 2^chase_bits - 1 flip patterns)."""
        n = self.code_bits
        log_ball = log2(sum(comb(n, i) for i in range(self.t + 1)))
        per_attempt = 2.0 ** (log_ball - self.parity_bits - 16)
        return min(1.0, 2**self.chase_bits * per_attempt)


SHORT = Profile("short", capacity=8, t=14, m=8)  # 88 data + 108 parity = 196 coded bits
LONG = Profile("long", capacity=24, t=20, m=9)  # 216 data + 171 parity = 387 coded bits
PROFILES = (SHORT, LONG)
CAPACITY_BYTES = LONG.capacity


def profile_for(message: bytes) -> Profile:
    for profile in PROFILES:
        if len(message) <= profile.capacity:
            return profile
    raise OptionError(
        f"payload too long: {len(message)} bytes ({8 * len(message)} bits); the capacity is "
        f"{CAPACITY_BYTES} bytes ({8 * CAPACITY_BYTES} bits), and up to {SHORT.capacity} bytes is the most robust"
    )


def encode(message: bytes, profile: Profile | None = None) -> np.ndarray:
    """``message`` -> the profile's coded bits as float32 +-1 (data bits first: the code is systematic)."""
    profile = profile or profile_for(message)
    if len(message) > profile.capacity:
        raise OptionError(f"payload too long for the {profile.name} profile: {len(message)} > {profile.capacity} bytes")
    data = bytes([len(message)]) + message.ljust(profile.capacity, b"\0")
    data += binascii.crc_hqx(data, 0xFFFF).to_bytes(2, "big")
    parity = np.unpackbits(np.frombuffer(bytes(profile.codec.encode(data)), np.uint8))[: profile.parity_bits]
    bits = np.concatenate([np.unpackbits(np.frombuffer(data, np.uint8)), parity])
    return bits.astype(np.float32) * 2 - 1


def message_bits(profile: Profile, length: int) -> slice:
    """Where the message's bits sit in the codeword (after the length byte): for bit-accuracy counts."""
    return slice(8, 8 + 8 * length)


def decode(soft: np.ndarray, profile: Profile, chase: bool = True) -> bytes | None:
    """Soft values of the coded bits (positive = 1) -> the message, if a codeword with a valid CRC is found.

    Plain BCH first; then (``chase``) every combination of the ``chase_bits`` least reliable bits flipped
    (Chase decoding: the bits decided with the least margin hold most of the residual errors).
    """
    soft = np.asarray(soft, np.float64)
    hard = (soft > 0).astype(np.uint8)
    message = _try(profile, hard)
    if message is not None or not chase:
        return message
    weakest = np.argsort(np.abs(soft))[: profile.chase_bits]
    for pattern in range(1, 2**profile.chase_bits):
        flipped = hard.copy()
        flipped[weakest[[bool(pattern >> i & 1) for i in range(profile.chase_bits)]]] ^= 1
        message = _try(profile, flipped)
        if message is not None:
            return message
    return None


def _try(profile: Profile, bits: np.ndarray) -> bytes | None:
    split = 8 * profile.data_bytes
    data = bytearray(np.packbits(bits[:split]).tobytes())
    ecc_bits = np.zeros(8 * profile.codec.ecc_bytes, np.uint8)
    ecc_bits[: profile.parity_bits] = bits[split:]
    ecc = bytearray(np.packbits(ecc_bits).tobytes())
    if profile.codec.decode(data, ecc) < 0:
        return None
    profile.codec.correct(data, ecc)
    return _check(bytes(data), profile)


def _check(data: bytes, profile: Profile) -> bytes | None:
    if binascii.crc_hqx(data[:-2], 0xFFFF) != int.from_bytes(data[-2:], "big"):
        return None
    length = data[0]
    if length > profile.capacity or any(data[1 + length : 1 + profile.capacity]):
        return None
    return data[1 : 1 + length]
