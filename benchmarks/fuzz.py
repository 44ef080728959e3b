"""Fuzzing: every image decoder and model-file loader, fed mutated real files, must fail with our one-line error.

Targets: image decoding (``acutance.io.decode_image``) for PNG, JPEG, TIFF, WebP and BMP, and every model-file
loader through ``acutance.models.registry.load_model_file``: npz (hashed filters, LUT, LeRF, edge-SR), ONNX,
safetensors and ``.pth``. A model that loads is also run once on an 8x8 image, so parameters the loader let
through cannot fail later. Seeds are real small files made here: 16x16 images in many modes (palette, 16-bit,
alpha, CMYK, progressive, LZW, animated...), the shipped edge-SR files, small hashed-filter / LUT / LeRF files
in the shipped layouts, tiny SRVGG / RRDB / SwinIR checkpoints and their ONNX export.

Mutations (deterministic: input ``i`` of target ``t`` comes from ``random.Random(f"{t}:{i}")``): bit flips,
byte and integer overwrites with boundary values, truncation, insertion, deletion, duplication, splices of two
seeds, and format-aware edits that keep checksums valid so the decoder goes deeper: PNG chunks (IHDR fields,
huge lengths, zlib bombs, APNG frames), JPEG markers (SOF sizes, components), TIFF IFD entries, WebP/RIFF and
BMP header fields, npz members (the ``meta`` JSON, ``.npy`` headers with huge shapes or object dtypes, zip
sizes, a 1.2 GiB zero member), safetensors headers, ONNX graphs (dims, ops, attributes, metadata) and torch
checkpoints rebuilt with odd wrappers, dtypes, keys and pickled objects.

Every input runs in a worker process (one at a time: the machine is shared) with an address-space limit of
``--memory-mib`` over the worker's warm size (a MemoryError is a failure), and the supervisor kills it when one
input takes longer than ``--timeout`` seconds (a hang). A failure is anything but success or an
``AcutanceError`` with a one-line message that does not advise unsafe loading (``weights_only``,
``allow_pickle``): another exception, a Python warning, a hang, a crash, a MemoryError. Failures are grouped
by (kind, exception type, innermost frame) with the first reproducer's index and mutation description;
``--replay TARGET:INDEX`` re-runs one in this process with its traceback, ``--recheck`` re-runs every recorded
failure and marks those that now pass as fixed.

Resumable: results go to benchmarks/results/fuzz.json after every chunk (``--chunk`` inputs), so a rerun
continues where the last stopped; ``--fresh`` starts targets over (their earlier failures are kept under
``found_earlier``). Writes benchmarks/results/fuzz.json and fuzz.md.

Usage: nice -n 10 python benchmarks/fuzz.py [--targets png,jpeg,...] [--inputs 100000] [--chunk 5000]
       [--timeout 10] [--memory-mib 1536] [--fresh] [--recheck] [--replay TARGET:INDEX] [--markdown-only]
"""

from __future__ import annotations

import argparse
import io
import json
import math
import multiprocessing
import os
import random
import struct
import sys
import tempfile
import time
import traceback
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path

import common

IMAGE_TARGETS = ("png", "jpeg", "tiff", "webp", "bmp")
MODEL_TARGETS = ("npz", "onnx", "safetensors", "pth")
TARGETS = IMAGE_TARGETS + MODEL_TARGETS
DEFAULT_ORDER = ("jpeg", "tiff", "webp", "bmp", "png", "onnx", "safetensors", "npz", "pth")  # cheapest first
SUFFIX = {"npz": ".npz", "onnx": ".onnx", "safetensors": ".safetensors", "pth": ".pth"}
UNSAFE_ADVICE = ("weights_only", "allow_pickle")
WEIGHTS = common.ROOT / "src" / "acutance" / "weights"
JSON_PATH = common.RESULTS / "fuzz.json"
MD_PATH = common.RESULTS / "fuzz.md"

# --------------------------------------------------------------------------------------------------- seeds


def _pil_bytes(image, fmt: str, **options) -> bytes:
    buffer = io.BytesIO()
    image.save(buffer, fmt, **options)
    return buffer.getvalue()


def _test_image(size: int = 16):
    import numpy as np

    yy, xx = np.mgrid[0:size, 0:size].astype(np.float32)
    rgb = np.stack([xx / size, yy / size, ((xx // 4 + yy // 4) % 2) * 0.8 + 0.1], axis=-1)
    return np.clip(rgb, 0, 1).astype(np.float32)


def image_seeds(target: str) -> list[tuple[str, bytes]]:
    """Small real files of every flavour we read, 16x16."""
    import numpy as np
    from PIL import Image as PILImage

    from acutance.io import encode_image

    rgb = _test_image()
    u8 = (rgb * 255).round().astype(np.uint8)
    img = PILImage.fromarray(u8)
    rgba = PILImage.fromarray(np.dstack([u8, (np.arange(256).reshape(16, 16)).astype(np.uint8)]))
    gray = img.convert("L")
    pal = img.quantize(16)
    frames = [img, img.transpose(PILImage.Transpose.FLIP_LEFT_RIGHT)]
    exif = PILImage.Exif()
    exif[0x0112] = 6  # orientation: rotate
    seeds: list[tuple[str, bytes]] = []
    if target == "png":
        pal_t = pal.copy()
        pal_t.info["transparency"] = 0
        seeds += [("png-rgb8", _pil_bytes(img, "PNG")), ("png-rgba8", _pil_bytes(rgba, "PNG")),
                  ("png-gray8", _pil_bytes(gray, "PNG")), ("png-palette-trns", _pil_bytes(pal_t, "PNG")),
                  ("png-gray1", _pil_bytes(gray.convert("1"), "PNG")), ("png-la", _pil_bytes(rgba.convert("LA"), "PNG")),
                  ("png-rgb16", encode_image(rgb, "PNG", bit_depth=16)),
                  ("png-gray16", _pil_bytes(PILImage.fromarray((rgb[:, :, 0] * 65535).astype(np.uint16)), "PNG")),
                  ("png-exif-icc", _pil_bytes(img, "PNG", exif=exif.tobytes(), icc_profile=b"\0" * 128)),
                  ("apng", _pil_bytes(frames[0], "PNG", save_all=True, append_images=frames[1:]))]
    elif target == "jpeg":
        seeds += [("jpeg-420", _pil_bytes(img, "JPEG", quality=90)), ("jpeg-444", _pil_bytes(img, "JPEG", subsampling=0)),
                  ("jpeg-progressive", _pil_bytes(img, "JPEG", progressive=True)),
                  ("jpeg-gray", _pil_bytes(gray, "JPEG")), ("jpeg-cmyk", _pil_bytes(img.convert("CMYK"), "JPEG")),
                  ("jpeg-exif-icc", _pil_bytes(img, "JPEG", exif=exif.tobytes(), icc_profile=b"\0" * 128))]
    elif target == "tiff":
        seeds += [("tiff-raw", _pil_bytes(img, "TIFF")), ("tiff-lzw", _pil_bytes(img, "TIFF", compression="tiff_lzw")),
                  ("tiff-deflate", _pil_bytes(rgba, "TIFF", compression="tiff_adobe_deflate")),
                  ("tiff-packbits-gray", _pil_bytes(gray, "TIFF", compression="packbits")),
                  ("tiff-palette", _pil_bytes(pal, "TIFF")), ("tiff-1bit", _pil_bytes(gray.convert("1"), "TIFF")),
                  ("tiff-rgb16", encode_image(rgb, "TIFF", bit_depth=16)),
                  ("tiff-jpeg", _pil_bytes(img, "TIFF", compression="jpeg")),
                  ("tiff-exif", _pil_bytes(img, "TIFF", exif=exif.tobytes()))]
    elif target == "webp":
        seeds += [("webp-lossy", _pil_bytes(img, "WEBP", quality=80)), ("webp-lossless", _pil_bytes(img, "WEBP", lossless=True)),
                  ("webp-alpha", _pil_bytes(rgba, "WEBP")),
                  ("webp-animated", _pil_bytes(frames[0], "WEBP", save_all=True, append_images=frames[1:])),
                  ("webp-exif-icc", _pil_bytes(img, "WEBP", exif=exif.tobytes(), icc_profile=b"\0" * 128))]
    elif target == "bmp":
        seeds += [("bmp-24", _pil_bytes(img, "BMP")), ("bmp-8-palette", _pil_bytes(pal, "BMP")),
                  ("bmp-gray", _pil_bytes(gray, "BMP")), ("bmp-1", _pil_bytes(gray.convert("1"), "BMP")),
                  ("bmp-32", _pil_bytes(rgba, "BMP"))]
    return seeds


def _rezip(members: dict[str, bytes], compression: int = zipfile.ZIP_DEFLATED) -> bytes:
    """An npz from ``{name.npy: bytes}`` with fixed timestamps (so seeds and reproducers are deterministic)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in members.items():
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = compression
            archive.writestr(info, data)
    return buffer.getvalue()


def _npy_bytes(array) -> bytes:
    import numpy as np

    buffer = io.BytesIO()
    np.lib.format.write_array(buffer, array, allow_pickle=True)
    return buffer.getvalue()


def _npz_members(data: bytes) -> dict[str, bytes]:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        if sum(info.file_size for info in archive.infolist()) > 64 << 20:
            raise ValueError("a bomb: not unpacked again")  # (the mutator falls back to a byte edit)
        return {name: archive.read(name) for name in archive.namelist()}


def _small_npz(path: Path, shrink: bool) -> bytes:
    """A shipped npz model file, its big tables replaced by smooth small-valued ones of the same shape (so it
    compresses to a few KB and still loads), rezipped deterministically."""
    import numpy as np

    members = {}
    with np.load(path, allow_pickle=False) as data:
        for key in data.files:
            array = data[key]
            if shrink and key != "meta" and array.size > 4096:
                array = np.zeros_like(array)  # zeros: deflates to almost nothing
            members[f"{key}.npy"] = _npy_bytes(array)
    return _rezip(members)


def npz_seeds() -> list[tuple[str, bytes]]:
    import numpy as np

    seeds = [(f"npz-{name}", _small_npz(WEIGHTS / f"{name}.npz", shrink=False))
             for name in ("esr-max-c4-k5-x2", "esr-tr-c2-k5-x2", "esr-cnn-c4-d4-s8-x2")]
    seeds += [(f"npz-{name}-small", _small_npz(WEIGHTS / f"{name}.npz", shrink=True))
              for name in ("raisr-fast-x2", "blade-denoise-ms-50", "lut-x2", "lut-x4", "lerf", "face-quality", "niqe-pristine")]
    # A pickled object array beside a valid meta: must be refused without advising allow_pickle.
    members = _npz_members(seeds[0][1])
    members["w0.npy"] = _npy_bytes(np.array([{"a": 1}, None], dtype=object))
    seeds.append(("npz-pickled-object-array", _rezip(members)))
    return seeds


def _tiny_nets():
    """Tiny SR nets of the three detected architectures, seeded."""
    import torch

    from acutance.deep.arch.rrdb import RRDBNet
    from acutance.deep.arch.srvgg import SRVGGNetCompact
    from acutance.deep.arch.swinir import SwinIR

    torch.manual_seed(0)
    return {
        "srvgg-x2": SRVGGNetCompact(num_feat=4, num_conv=1, upscale=2),
        "rrdb-x4": RRDBNet(num_in_ch=3, num_out_ch=3, scale=4, num_feat=4, num_block=1, num_grow_ch=2),
        "swinir-x2": SwinIR(embed_dim=6, depths=(1,), num_heads=(1,), window_size=2, mlp_ratio=1.0, upscale=2,
                            upsampler="pixelshuffledirect"),
    }


def checkpoint_seeds(target: str) -> list[tuple[str, bytes]]:
    import torch
    from safetensors.torch import save

    from acutance.deep.checkpoint import CHECKPOINT_FORMAT, META_KEY

    seeds = []
    for name, net in _tiny_nets().items():
        if target == "pth" and name == "swinir-x2":
            continue  # SwinIR's 60 ms build each time would halve the .pth rate; safetensors covers it
        state = {key: value.detach().contiguous() for key, value in net.state_dict().items()}
        if target == "safetensors":
            description = {"format": CHECKPOINT_FORMAT, "arch": type(net).__name__, "hyper_parameters": net.hyper_parameters()}
            seeds.append((f"st-{name}-described", save(state, metadata={META_KEY: json.dumps(description)})))
            seeds.append((f"st-{name}-detected", save(state)))
        else:
            buffer = io.BytesIO()
            torch.save({"params_ema": {f"module.{k}": v for k, v in state.items()}, "iter": 5}, buffer)
            seeds.append((f"pth-{name}-wrapped", buffer.getvalue()))
            buffer = io.BytesIO()
            torch.save({k: v.half() for k, v in state.items()}, buffer)
            seeds.append((f"pth-{name}-half", buffer.getvalue()))
    if target == "pth":  # a checkpoint that pickles a Python object: must be refused without advising unsafe loading
        buffer = io.BytesIO()
        torch.save({"params": {k: v for k, v in _tiny_nets()["srvgg-x2"].state_dict().items()},
                    "opt": argparse.Namespace(lr=1e-3)}, buffer)
        seeds.append(("pth-pickled-namespace", buffer.getvalue()))
    return seeds


def onnx_seeds() -> list[tuple[str, bytes]]:
    import onnx

    from acutance.deep.export import onnx_bytes

    import torch

    from acutance.deep.arch.srvgg import SRVGGNetCompact

    torch.manual_seed(0)
    # SRVGG only: an ONNX session on the tiny RRDB / SwinIR graphs costs 50-170 ms, on SRVGG's 4-25 ms.
    nets = {"srvgg-x2": _tiny_nets()["srvgg-x2"], "srvgg-x4-prelu": SRVGGNetCompact(num_feat=4, num_conv=2, upscale=4)}
    seeds = []
    for name, net in nets.items():
        scale = 4 if "x4" in name else 2
        data = onnx_bytes(net, scale)
        seeds.append((f"onnx-{name}", data))
        model = onnx.load_from_string(data)
        del model.metadata_props[:]  # a foreign file: scale found by running it
        seeds.append((f"onnx-{name}-foreign", model.SerializeToString()))
    return seeds


def build_seeds(target: str) -> list[tuple[str, bytes]]:
    if target in IMAGE_TARGETS:
        return image_seeds(target)
    if target == "npz":
        return npz_seeds()
    if target == "onnx":
        return onnx_seeds()
    return checkpoint_seeds(target)


# ----------------------------------------------------------------------------------------------- mutations

INTERESTING_INTS = (0, 1, 2, 3, 7, 8, 15, 16, 17, 255, 256, 4095, 65535, 65536, 2**24 - 1, 2**31 - 1, 2**31,
                    2**32 - 1, 2**40, 2**63 - 1)
INTERESTING_VALUES = (0, -1, 1, 2, 3, 5, 64, 255, 65536, 2**31, 2**63, 10**12, 10**30, -(2**63), 0.5, -0.0,
                      1e308, float("inf"), float("nan"), "", "x", "rgb", "luma", "edge", "same", "shuffle", "max",
                      [], [0, 0, 0], [[1]], {}, None, True, False, "9" * 300)


class Mutator:
    """Applies random mutations to bytes and describes what it did (the reproducer)."""

    def __init__(self, rng: random.Random, seeds: list[tuple[str, bytes]], structural) -> None:
        self.rng, self.seeds, self.structural, self.log = rng, seeds, structural, []

    def note(self, text: str) -> None:
        self.log.append(text)

    def mutate(self) -> bytes:
        rng = self.rng
        label, data = rng.choice(self.seeds)
        self.note(f"seed {label}")
        for _ in range(rng.choice((1, 1, 1, 2, 2, 3))):
            if self.structural is not None and rng.random() < 0.5:
                try:
                    data = self.structural(self, data)
                    continue
                except Exception as error:  # noqa: BLE001 (the data no longer parses as its format: mutate bytes)
                    self.note(f"(structural edit not applicable: {type(error).__name__})")
            data = self.bytes_op(data)
        return data

    def bytes_op(self, data: bytes) -> bytes:
        rng, n = self.rng, len(data)
        op = rng.randrange(8)
        if n == 0:
            return bytes(rng.randrange(256) for _ in range(rng.randrange(1, 64)))
        buf = bytearray(data)
        if op == 0:
            count = rng.choice((1, 1, 2, 4, 8))
            for _ in range(count):
                pos = rng.randrange(n)
                buf[pos] ^= 1 << rng.randrange(8)
            self.note(f"flip {count} bit(s)")
        elif op == 1:
            pos = rng.randrange(n)
            width = rng.choice((1, 2, 4, 8))
            value = rng.choice(INTERESTING_INTS) % (1 << (8 * width))
            packed = value.to_bytes(width, rng.choice(("little", "big")))
            buf[pos : pos + width] = packed
            self.note(f"write int {value} ({width} bytes) at {pos}")
        elif op == 2:
            cut = rng.randrange(n)
            self.note(f"truncate to {cut} of {n} bytes")
            return bytes(buf[:cut])
        elif op == 3:
            pos, length = rng.randrange(n), rng.choice((1, 4, 16, 256))
            buf[pos:pos] = bytes(rng.randrange(256) for _ in range(length))
            self.note(f"insert {length} random bytes at {pos}")
        elif op == 4:
            pos = rng.randrange(n)
            length = min(n - pos, rng.choice((1, 4, 16, 256)))
            del buf[pos : pos + length]
            self.note(f"delete {length} bytes at {pos}")
        elif op == 5:
            pos = rng.randrange(n)
            length = min(n - pos, rng.choice((4, 16, 256, 4096)))
            buf[pos:pos] = buf[pos : pos + length] * rng.choice((1, 2, 16))
            self.note(f"repeat {length} bytes at {pos}")
        elif op == 6:
            label, other = rng.choice(self.seeds)
            a, b = rng.randrange(n), rng.randrange(len(other))
            self.note(f"splice first {a} bytes with {label} from {b}")
            return bytes(buf[:a]) + other[b:]
        else:
            pos = rng.randrange(n)
            length = min(n - pos, rng.choice((1, 8, 64)))
            buf[pos : pos + length] = bytes(rng.choice((0, 0xFF)) for _ in range(length))
            self.note(f"fill {length} bytes at {pos} with 0x00/0xFF")
        return bytes(buf)

    def value(self):
        value = self.rng.choice(INTERESTING_VALUES)
        return list(value) if isinstance(value, list) else (dict(value) if isinstance(value, dict) else value)

    def int_value(self, bits: int) -> int:
        return self.rng.choice(INTERESTING_INTS) % (1 << bits)


def mutate_json(m: Mutator, obj, depth: int = 0):
    """One edit somewhere in a JSON tree: replace, delete or add a value; strings holding JSON are entered."""
    rng = m.rng
    if isinstance(obj, str) and obj[:1] in "{[" and depth < 3:
        try:
            return json.dumps(mutate_json(m, json.loads(obj), depth + 1))
        except ValueError:
            pass
    if isinstance(obj, dict) and obj and rng.random() < 0.75:
        key = rng.choice(sorted(obj, key=str))
        roll = rng.random()
        if roll < 0.15:
            m.note(f"json: delete {key!r}")
            return {k: v for k, v in obj.items() if k != key}
        if roll < 0.6 and isinstance(obj[key], (dict, list, str)):
            return obj | {key: mutate_json(m, obj[key], depth + 1)}
        new = m.value()
        m.note(f"json: {key!r} = {new!r:.60}")
        return obj | {key: new}
    if isinstance(obj, list) and obj and rng.random() < 0.75:
        index = rng.randrange(len(obj))
        roll = rng.random()
        if roll < 0.2:
            m.note(f"json: drop item {index}")
            return obj[:index] + obj[index + 1 :]
        if roll < 0.3:
            m.note(f"json: repeat item {index}")
            return obj + [obj[index]] * rng.choice((1, 100))
        if isinstance(obj[index], (dict, list, str)) and roll < 0.7:
            return obj[:index] + [mutate_json(m, obj[index], depth + 1)] + obj[index + 1 :]
        new = m.value()
        m.note(f"json: item {index} = {new!r:.60}")
        return obj[:index] + [new] + obj[index + 1 :]
    if isinstance(obj, dict):
        key = rng.choice(("format", "scale", "layers", "stages", "spec", "extra", "arch", "hyper_parameters", "x"))
        new = m.value()
        m.note(f"json: add {key!r} = {new!r:.60}")
        return obj | {key: new}
    new = m.value()
    m.note(f"json: value {obj!r:.40} -> {new!r:.60}")
    return new


def _dumps(obj) -> str:
    return json.dumps(obj)  # NaN / Infinity written as JSON's extensions, as a hostile file could


# --- images


def _png_chunks(data: bytes) -> list[list]:
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise ValueError("not PNG")
    chunks, pos = [], 8
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        chunks.append([kind, data[pos + 8 : pos + 8 + length]])
        pos += 12 + length
    return chunks


def _png_join(chunks, fix_crc: bool = True) -> bytes:
    out = [b"\x89PNG\r\n\x1a\n"]
    for kind, body in chunks:
        crc = zlib.crc32(kind + body) if fix_crc else 0
        out.append(struct.pack(">I4s", len(body), kind) + body + struct.pack(">I", crc))
    return b"".join(out)


def png_structural(m: Mutator, data: bytes) -> bytes:
    rng = m.rng
    chunks = _png_chunks(data)
    op = rng.randrange(7)
    if op == 0:  # IHDR fields
        body = bytearray(chunks[0][1])
        field, offset, width = rng.choice((("width", 0, 4), ("height", 4, 4), ("bit depth", 8, 1),
                                           ("colour type", 9, 1), ("interlace", 12, 1), ("filter", 11, 1)))
        value = rng.choice((0, 1, 2, 3, 4, 6, 7, 8, 16, 255)) if width == 1 else m.int_value(32)
        body[offset : offset + width] = value.to_bytes(width, "big")
        chunks[0][1] = bytes(body)
        m.note(f"png: IHDR {field} = {value} (CRC fixed)")
    elif op == 1:  # a chunk's length field huge (CRC no longer matters)
        index = rng.randrange(len(chunks))
        out = _png_join(chunks)
        pos = 8 + sum(12 + len(body) for _, body in chunks[:index])
        value = m.int_value(32)
        m.note(f"png: chunk {index} ({chunks[index][0]!r}) length field = {value}")
        return out[:pos] + struct.pack(">I", value) + out[pos + 4 :]
    elif op == 2:  # IDAT with other (valid zlib) content: wrong size, or a decompression bomb
        size = rng.choice((0, 1, 100, 10_000, 4_000_000))
        chunks = [c for c in chunks if c[0] != b"IDAT"]
        chunks.insert(len(chunks) - 1, [b"IDAT", _zeros_zlib(size)])
        m.note(f"png: IDAT replaced by zlib of {size} zero bytes (CRC fixed)")
    elif op == 3:  # an ancillary chunk with odd content, valid CRC
        kind = rng.choice((b"PLTE", b"tRNS", b"iCCP", b"eXIf", b"zTXt", b"iTXt", b"tEXt", b"acTL", b"fcTL",
                           b"fdAT", b"gAMA", b"sRGB", b"cHRM", b"pHYs", b"sBIT", b"bKGD", b"sPLT", b"IDAT"))
        size = rng.choice((0, 1, 3, 8, 26, 768, 4000))
        body = bytes(rng.randrange(256) for _ in range(size))
        if kind in (b"iCCP", b"zTXt") and rng.random() < 0.5:  # compressed payload, maybe a bomb
            body = b"name\0\0" + _zeros_zlib(rng.choice((10, 50_000_000)))
        if kind in (b"acTL", b"fcTL") and rng.random() < 0.5:
            body = struct.pack(">II", m.int_value(32), m.int_value(32)) + body[:18]
        chunks.insert(rng.randrange(1, len(chunks)), [kind, body])
        m.note(f"png: insert {kind.decode()} chunk of {len(body)} bytes (CRC fixed)")
    elif op == 4:
        index = rng.randrange(len(chunks))
        m.note(f"png: drop chunk {index} ({chunks[index][0]!r})")
        del chunks[index]
    elif op == 5:
        index = rng.randrange(len(chunks))
        m.note(f"png: duplicate chunk {index} ({chunks[index][0]!r})")
        chunks.insert(index, list(chunks[index]))
    else:  # edit inside a chunk body, CRC fixed
        index = rng.randrange(len(chunks))
        body = bytearray(chunks[index][1])
        if not body:
            raise ValueError("empty chunk")
        pos = rng.randrange(len(body))
        body[pos] = rng.randrange(256)
        chunks[index][1] = bytes(body)
        m.note(f"png: byte {pos} of chunk {index} ({chunks[index][0]!r}) changed (CRC fixed)")
    return _png_join(chunks)


def jpeg_structural(m: Mutator, data: bytes) -> bytes:
    rng = m.rng
    segments, pos = [], 2
    if data[:2] != b"\xff\xd8":
        raise ValueError("not JPEG")
    while pos + 4 <= len(data) and data[pos] == 0xFF:
        marker = data[pos + 1]
        length = struct.unpack(">H", data[pos + 2 : pos + 4])[0]
        segments.append((pos, marker, length))
        if marker == 0xDA:
            break
        pos += 2 + length
    buf = bytearray(data)
    sofs = [s for s in segments if s[1] in (0xC0, 0xC1, 0xC2)]
    op = rng.randrange(5)
    if op == 0 and sofs:
        start = sofs[0][0] + 5
        which, offset = rng.choice((("height", 0), ("width", 2)))
        value = rng.choice((0, 1, 65535, 8192, 30000))
        buf[start + offset : start + offset + 2] = struct.pack(">H", value)
        m.note(f"jpeg: SOF {which} = {value}")
    elif op == 1 and sofs:
        start = sofs[0][0] + 9
        value = rng.choice((0, 1, 2, 3, 4, 5, 255))
        buf[start] = value
        m.note(f"jpeg: SOF component count = {value}")
    elif op == 2:
        pos, marker, length = rng.choice(segments)
        value = rng.choice((0, 1, 2, 65535, length + 1, length - 1))
        buf[pos + 2 : pos + 4] = struct.pack(">H", value % 65536)
        m.note(f"jpeg: segment 0x{marker:02X} length = {value % 65536}")
    elif op == 3:
        pos, marker, _ = rng.choice(segments)
        new = rng.choice((0xC0, 0xC1, 0xC2, 0xC3, 0xC5, 0xC9, 0xCB, 0xCF, 0xDB, 0xC4, 0xDD, 0xE1, 0xEE))
        buf[pos + 1] = new
        m.note(f"jpeg: marker 0x{marker:02X} -> 0x{new:02X}")
    else:  # an APP1 Exif / APP2 ICC segment with random content, inserted after SOI
        body = bytes(rng.randrange(256) for _ in range(rng.choice((0, 8, 64, 1000))))
        app = rng.choice(((0xE1, b"Exif\0\0II*\0\x08\0\0\0"), (0xE1, b"Exif\0\0MM\0*\0\0\0\x08"),
                          (0xE2, b"ICC_PROFILE\0\x01\x01"), (0xE2, b"ICC_PROFILE\0\x02\x01"), (0xEE, b"Adobe")))
        payload = app[1] + body
        m.note(f"jpeg: insert APP 0x{app[0]:02X} {app[1][:11]!r} + {len(body)} random bytes")
        return bytes(buf[:2]) + bytes((0xFF, app[0])) + struct.pack(">H", len(payload) + 2) + payload + bytes(buf[2:])
    return bytes(buf)


def tiff_structural(m: Mutator, data: bytes) -> bytes:
    rng = m.rng
    order = {b"II": "<", b"MM": ">"}[data[:2]]
    ifd = struct.unpack(order + "I", data[4:8])[0]
    count = struct.unpack(order + "H", data[ifd : ifd + 2])[0]
    buf = bytearray(data)
    if rng.random() < 0.1:  # the next-IFD pointer: to itself (a loop), or past the end
        pos = ifd + 2 + 12 * count
        value = rng.choice((ifd, 8, len(data) + 100, 2**32 - 1))
        buf[pos : pos + 4] = struct.pack(order + "I", value)
        m.note(f"tiff: next IFD offset = {value}")
        return bytes(buf)
    entry = ifd + 2 + 12 * rng.randrange(count)
    tag, kind, number = struct.unpack(order + "HHI", data[entry : entry + 8])
    what = rng.randrange(4)
    if what == 0:
        value = rng.choice((0, 1, 2, 3, 4, 5, 7, 8, 16, 32, 64, 255, 65535, 2**31, 2**32 - 1))
        if kind == 3 and number == 1:
            buf[entry + 8 : entry + 10] = struct.pack(order + "H", value % 65536)
        else:
            buf[entry + 8 : entry + 12] = struct.pack(order + "I", value)
        m.note(f"tiff: tag {tag} value = {value}")
    elif what == 1:
        value = rng.choice((0, 1, 2, 3, 1000, 2**30, 2**32 - 1))
        buf[entry + 4 : entry + 8] = struct.pack(order + "I", value)
        m.note(f"tiff: tag {tag} count = {value}")
    elif what == 2:
        value = rng.choice((0, 1, 2, 3, 4, 5, 7, 11, 12, 13, 16, 99))
        buf[entry + 2 : entry + 4] = struct.pack(order + "H", value)
        m.note(f"tiff: tag {tag} type = {value}")
    else:
        new = rng.choice((256, 257, 258, 259, 262, 273, 277, 278, 279, 284, 317, 320, 338, 339, 34665, 34675, 530, 532))
        buf[entry : entry + 2] = struct.pack(order + "H", new)
        m.note(f"tiff: tag {tag} renamed {new}")
    return bytes(buf)


def webp_structural(m: Mutator, data: bytes) -> bytes:
    rng = m.rng
    if data[:4] != b"RIFF" or data[8:12] != b"WEBP":
        raise ValueError("not WebP")
    buf = bytearray(data)
    chunks, pos = [], 12
    while pos + 8 <= len(data):
        size = struct.unpack("<I", data[pos + 4 : pos + 8])[0]
        chunks.append((pos, data[pos : pos + 4], size))
        pos += 8 + size + (size & 1)
    op = rng.randrange(5)
    if op == 0:
        value = m.int_value(32)
        buf[4:8] = struct.pack("<I", value)
        m.note(f"webp: RIFF size = {value}")
    elif op == 1:
        pos, kind, _ = rng.choice(chunks)
        value = m.int_value(32)
        buf[pos + 4 : pos + 8] = struct.pack("<I", value)
        m.note(f"webp: {kind!r} size = {value}")
    elif op == 2:
        pos, kind, _ = rng.choice(chunks)
        new = rng.choice((b"VP8 ", b"VP8L", b"VP8X", b"ALPH", b"ANIM", b"ANMF", b"ICCP", b"EXIF", b"XMP "))
        buf[pos : pos + 4] = new
        m.note(f"webp: chunk {kind!r} renamed {new!r}")
    elif op == 3:  # a VP8X header with a huge canvas in front
        flags = rng.randrange(256)
        w, h = m.int_value(24), m.int_value(24)
        vp8x = b"VP8X" + struct.pack("<I", 10) + bytes((flags, 0, 0, 0)) + w.to_bytes(3, "little") + h.to_bytes(3, "little")
        m.note(f"webp: VP8X flags {flags} canvas {w + 1}x{h + 1} inserted")
        body = vp8x + bytes(buf[12:])
        return b"RIFF" + struct.pack("<I", len(body) + 4) + b"WEBP" + body
    else:  # image dimensions inside the VP8 / VP8L bitstream header
        pos, kind, _ = chunks[0] if chunks[0][1] != b"VP8X" else chunks[-1]
        start = pos + 8
        if kind == b"VP8 ":
            offset = start + 6 + rng.choice((0, 2))
            value = m.int_value(16)
            buf[offset : offset + 2] = struct.pack("<H", value)
        else:
            offset = start + 1
            value = m.int_value(32)
            buf[offset : offset + 4] = struct.pack("<I", value)
        m.note(f"webp: {kind!r} size field = {value}")
    return bytes(buf)


def bmp_structural(m: Mutator, data: bytes) -> bytes:
    rng = m.rng
    if data[:2] != b"BM":
        raise ValueError("not BMP")
    buf = bytearray(data)
    field, offset, fmt, values = rng.choice((
        ("file size", 2, "<I", (0, 1, 2**32 - 1)),
        ("pixel offset", 10, "<I", (0, 14, 54, 2**31, 2**32 - 1)),
        ("header size", 14, "<I", (0, 12, 16, 40, 52, 56, 64, 108, 124, 2**32 - 1)),
        ("width", 18, "<i", (0, 1, -1, 65535, 2**31 - 1, -(2**31), 100_000)),
        ("height", 22, "<i", (0, 1, -1, -16, 65535, 2**31 - 1, -(2**31), 100_000)),
        ("planes", 26, "<H", (0, 2, 65535)),
        ("bits", 28, "<H", (0, 1, 2, 4, 8, 15, 16, 24, 32, 64, 65535)),
        ("compression", 30, "<I", (0, 1, 2, 3, 4, 5, 6, 11, 2**32 - 1)),
        ("image size", 34, "<I", (0, 1, 2**32 - 1)),
        ("colours used", 46, "<I", (0, 1, 256, 257, 2**24, 2**32 - 1)),
    ))
    value = rng.choice(values)
    buf[offset : offset + struct.calcsize(fmt)] = struct.pack(fmt, value)
    m.note(f"bmp: {field} = {value}")
    return bytes(buf)


# --- model files

_CACHE: dict = {}


def _zeros_zlib(size: int) -> bytes:
    """zlib stream of ``size`` zero bytes (cached: a bomb is cheap to send, not to make)."""
    if size not in _CACHE:
        _CACHE[size] = zlib.compress(b"\0" * size, 9)
    return _CACHE[size]


def _bomb_member() -> tuple[bytes, int, int]:
    """(raw deflate data, size, CRC) of a 1.2 GiB zero float32 ``.npy``, about 1.2 MB deflated; built once.

    A full flush resets the compressor, so one 16 MiB block of zeros compresses to the same bytes every time:
    the stream is that segment repeated (seconds faster than compressing 1.2 GiB)."""
    if "bomb" not in _CACHE:
        import numpy as np

        count = 300 << 20
        header = io.BytesIO()
        np.lib.format.write_array_header_1_0(header, {"descr": "<f4", "fortran_order": False, "shape": (count,)})
        chunk = b"\0" * (16 << 20)
        repeats = count * 4 // len(chunk)
        compressor = zlib.compressobj(9, zlib.DEFLATED, -15)
        head = compressor.compress(header.getvalue()) + compressor.flush(zlib.Z_FULL_FLUSH)
        segment = compressor.compress(chunk) + compressor.flush(zlib.Z_FULL_FLUSH)
        tail = compressor.flush(zlib.Z_FINISH)
        crc = zlib.crc32(header.getvalue())
        for _ in range(repeats):
            crc = zlib.crc32(chunk, crc)
        _CACHE["bomb"] = (head + segment * repeats + tail, count * 4 + len(header.getvalue()), crc)
    return _CACHE["bomb"]


def _zip_raw(entries: list[tuple[str, bytes, int, int]]) -> bytes:
    """A zip written by hand from ``(name, raw deflate data, size, CRC)`` entries (sizes need not be real)."""
    local, central = [], []
    offset = 0
    for name, deflated, size, crc in entries:
        encoded = name.encode()
        fields = struct.pack("<HHHHHIIIHH", 20, 0, 8, 0, 33, crc, len(deflated), size, len(encoded), 0)
        header = b"PK\x03\x04" + fields + encoded
        local.append(header + deflated)
        central.append(b"PK\x01\x02" + struct.pack("<H", 20) + fields + struct.pack("<HHHII", 0, 0, 0, 0, offset) + encoded)
        offset += len(header) + len(deflated)
    directory = b"".join(central)
    end = b"PK\x05\x06" + struct.pack("<HHHHIIH", 0, 0, len(entries), len(entries), len(directory), offset, 0)
    return b"".join(local) + directory + end


def _deflate(data: bytes) -> bytes:
    compressor = zlib.compressobj(6, zlib.DEFLATED, -15)
    return compressor.compress(data) + compressor.flush()


def npz_structural(m: Mutator, data: bytes) -> bytes:
    import numpy as np

    rng = m.rng
    members = _npz_members(data)
    names = sorted(members)
    op = rng.randrange(8)
    if op <= 2 and "meta.npy" in members:  # the meta JSON (most edits: that is where the config lives)
        meta = json.loads(str(np.load(io.BytesIO(members["meta.npy"]), allow_pickle=False)))
        members["meta.npy"] = _npy_bytes(np.array(_dumps(mutate_json(m, meta))))
    elif op == 3:  # an .npy header: shape, dtype, order
        name = rng.choice(names)
        raw = members[name]
        stream = io.BytesIO(raw)
        version = np.lib.format.read_magic(stream)
        read, write = ((np.lib.format.read_array_header_1_0, np.lib.format.write_array_header_1_0) if version == (1, 0)
                       else (np.lib.format.read_array_header_2_0, np.lib.format.write_array_header_2_0))
        shape, fortran, dtype = read(stream)
        body = raw[stream.tell() :]
        edit = rng.randrange(3)
        if edit == 0:
            shape = rng.choice(((10**10,), (2**62, 2), (0,), (), (-1,), (1 << 28, 4), tuple(reversed(shape)),
                                shape + (1,), shape[:-1], (len(body),)))
        elif edit == 1:
            dtype = np.dtype(rng.choice(("<f8", "<f2", "|i1", "|u1", ">f4", "|b1", "<c8", "<U4", "V4", "<M8[s]")))
        else:
            fortran = not fortran
        m.note(f"npz: {name} header shape={shape} dtype={dtype} fortran={fortran}")
        out = io.BytesIO()
        write(out, {"descr": np.lib.format.dtype_to_descr(dtype), "fortran_order": fortran, "shape": shape})
        members[name] = out.getvalue() + body
    elif op == 4:
        name = rng.choice(names)
        m.note(f"npz: drop member {name}")
        del members[name]
    elif op == 5:
        name = rng.choice(names)
        new = rng.choice(("extra.npy", "meta.npy", "w9.npy", "s9_s.npy", "layer9.filters.npy", name + ".npy", "../x.npy"))
        m.note(f"npz: copy member {name} as {new}")
        members[new] = members[name]
    elif op == 6:  # a pickled object array in place of a member
        name = rng.choice(names)
        m.note(f"npz: {name} replaced by a pickled object array")
        members[name] = _npy_bytes(np.array([{"x": 1}, [2]], dtype=object))
    else:  # a member that decompresses to 1.2 GiB of zeros (declared in the zip and the .npy header)
        name = rng.choice(names)
        del members[name]
        m.note(f"npz: {name} replaced by a 1.2 GiB zero array (zip bomb)")
        entries = [(key, _deflate(value), len(value), zlib.crc32(value)) for key, value in members.items()]
        return _zip_raw(entries + [(name, *_bomb_member())])
    compression = rng.choice((zipfile.ZIP_DEFLATED,) * 6 + (zipfile.ZIP_STORED,))
    return _rezip(members, compression)


def safetensors_structural(m: Mutator, data: bytes) -> bytes:
    rng = m.rng
    (length,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + length])
    body = data[8 + length :]
    op = rng.randrange(4)
    if op == 0:  # header length field
        value = rng.choice((0, 1, length - 1, length + 1, 2**32, 2**63 - 1, 100_000_000))
        m.note(f"safetensors: header length = {value}")
        return struct.pack("<Q", value) + data[8:]
    if op == 1 and "__metadata__" in header:  # the acutance description (hyper-parameters)
        header["__metadata__"] = mutate_json(m, header["__metadata__"])
    elif op == 2:  # a tensor's dtype, shape or offsets
        key = rng.choice(sorted(k for k in header if k != "__metadata__"))
        field = rng.choice(("dtype", "shape", "data_offsets"))
        if field == "dtype":
            value = rng.choice(("F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "C64", "X"))
        elif field == "shape":
            value = rng.choice(([], [0], [10**12], [2**31, 2**31], [-1], [1] * 40, list(reversed(header[key]["shape"]))))
        else:
            start, end = header[key]["data_offsets"]
            value = rng.choice(([end, start], [start, end + 4], [0, len(body) + 10**9], [start, start], [2**63, 2**63 + 4]))
        m.note(f"safetensors: {key} {field} = {value}")
        header[key][field] = value
    else:
        header = mutate_json(m, header)
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


_ONNX_OPS = ("Conv", "Relu", "Add", "Mul", "DepthToSpace", "Resize", "Pad", "Reshape", "Concat", "Identity",
             "LeakyRelu", "PRelu", "MatMul", "Softmax", "Loop", "If", "Gather", "Expand", "Tile", "Unknown")


def onnx_structural(m: Mutator, data: bytes) -> bytes:
    import onnx
    from onnx import helper

    rng = m.rng
    model = onnx.load_from_string(data)
    graph = model.graph
    op = rng.randrange(8)
    if op == 0 and graph.initializer:
        tensor = rng.choice(graph.initializer)
        dims = rng.choice(([], [0], [10**9], [2**40, 2**40], [1] * 9, list(reversed(tensor.dims)), list(tensor.dims) + [2]))
        m.note(f"onnx: initializer {tensor.name} dims = {dims}")
        del tensor.dims[:]
        tensor.dims.extend(dims)
    elif op == 1 and graph.initializer:
        tensor = rng.choice(graph.initializer)
        value = rng.choice((0, 2, 3, 6, 7, 8, 9, 10, 11, 16, 99))
        m.note(f"onnx: initializer {tensor.name} data type = {value}")
        tensor.data_type = value
    elif op == 2 and graph.initializer:
        tensor = rng.choice(graph.initializer)
        cut = rng.randrange(len(tensor.raw_data) + 1)
        m.note(f"onnx: initializer {tensor.name} raw data cut to {cut} bytes")
        tensor.raw_data = tensor.raw_data[:cut]
    elif op == 3 and graph.node:
        node = rng.choice(graph.node)
        new = rng.choice(_ONNX_OPS)
        m.note(f"onnx: node {node.name} {node.op_type} -> {new}")
        node.op_type = new
    elif op == 4 and graph.node:
        node = rng.choice(graph.node)
        if node.attribute:
            attribute = rng.choice(node.attribute)
            value = rng.choice((0, -1, 2**31 - 1, 10**6, 3))
            m.note(f"onnx: node {node.name} attribute {attribute.name} = {value}")
            if attribute.ints:
                attribute.ints[rng.randrange(len(attribute.ints))] = value
            else:
                attribute.i = value
        else:
            attribute = helper.make_attribute(rng.choice(("axis", "blocksize", "group", "mode")), rng.choice((0, 2, 10**6)))
            node.attribute.append(attribute)
            m.note(f"onnx: node {node.name} gets attribute {attribute.name}")
    elif op == 5:
        key = "acutance"
        props = {p.key: p.value for p in model.metadata_props}
        meta = json.loads(props[key]) if key in props else {"format": "acutance-onnx-1", "scale": 2}
        text = _dumps(mutate_json(m, meta))
        del model.metadata_props[:]
        helper.set_model_props(model, {**props, key: text})
    elif op == 6 and graph.node:
        index = rng.randrange(len(graph.node))
        m.note(f"onnx: node {graph.node[index].name} removed")
        del graph.node[index]
    else:
        which = rng.randrange(3)
        if which == 0:
            value = rng.choice((1, 7, 17, 99, 2**31))
            model.opset_import[0].version = value
            m.note(f"onnx: opset = {value}")
        elif which == 1:
            value = rng.choice((0, 1, 3, 11, 99))
            model.ir_version = value
            m.note(f"onnx: ir_version = {value}")
        else:
            dims = graph.input[0].type.tensor_type.shape.dim
            index = rng.randrange(len(dims))
            value = rng.choice((0, 1, 3, 32, 10**9))
            dims[index].dim_value = value
            m.note(f"onnx: input dim {index} = {value}")
    return model.SerializeToString()


def pth_structural(m: Mutator, data: bytes) -> bytes:
    import collections

    import torch

    rng = m.rng
    obj = torch.load(io.BytesIO(data), map_location="cpu", weights_only=True)
    # find the state dict inside
    holder, key = None, None
    state = obj
    while isinstance(state, dict) and not any(isinstance(v, torch.Tensor) for v in state.values()):
        key = next(k for k in state if isinstance(state[k], dict))
        holder, state = state, state[key]
    op = rng.randrange(8)
    names = sorted(state)
    name = rng.choice(names)
    if op == 0:
        dtype = rng.choice((torch.float64, torch.int64, torch.uint8, torch.bool, torch.bfloat16, torch.complex64))
        m.note(f"pth: {name} as {dtype}")
        state[name] = state[name].to(dtype)
    elif op == 1:
        shape = rng.choice(((0,), (), (1,) * 9, tuple(reversed(state[name].shape)), (state[name].numel(),)))
        m.note(f"pth: {name} reshaped {shape}")
        state[name] = state[name].reshape(-1)[: math.prod(shape)].reshape(shape) if math.prod(shape) <= state[name].numel() else state[name]
    elif op == 2:
        m.note(f"pth: drop {name}")
        del state[name]
    elif op == 3:
        new = rng.choice((1, None, "x", 3.5, (1, 2), [torch.zeros(2)], {"a": torch.zeros(1)}, b"\0", 10**30))
        target = rng.choice((f"{name}x", name, "body.99.weight", 7, ("a", 1)))
        m.note(f"pth: entry {target!r} = {new!r:.40}")
        state[target] = new
    elif op == 4:
        wrapper = rng.choice(("params_ema", "params", "state_dict", "model", "net_g", "generator", "other"))
        m.note(f"pth: wrapped in {wrapper!r}")
        obj = {wrapper: obj}
    elif op == 5:  # Python objects the weights-only unpickler must refuse
        value = rng.choice((argparse.Namespace(a=1), collections.Counter("ab"), {1, 2}, Path("x"), range(3)))
        m.note(f"pth: adds a {type(value).__name__}")
        obj = {"params": state, "extra": value}
    elif op == 6:  # an acutance description with edits
        from acutance.deep.checkpoint import META_KEY

        description = {"arch": rng.choice(("SRVGGNetCompact", "RRDBNet", "SwinIR", "X")),
                       "hyper_parameters": {"num_feat": 4, "num_conv": 1, "upscale": 2, "scale": 2, "num_block": 1}}
        description = mutate_json(m, description)
        obj = {"params": state, META_KEY: rng.choice((description, json.dumps(description)))}
    else:  # deep nesting
        depth = rng.choice((50, 5000))
        nested = state
        for _ in range(depth):
            nested = {"model": nested}
        m.note(f"pth: nested {depth} deep")
        obj = nested
    if holder is not None and op not in (4, 5, 6, 7):
        holder[key] = state
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


STRUCTURAL = {"png": png_structural, "jpeg": jpeg_structural, "tiff": tiff_structural, "webp": webp_structural,
              "bmp": bmp_structural, "npz": npz_structural, "onnx": onnx_structural,
              "safetensors": safetensors_structural, "pth": pth_structural}


def make_input(target: str, index: int, seeds: list[tuple[str, bytes]]) -> tuple[bytes, str]:
    """Input ``index`` of ``target`` (deterministic) and the description of how it was made."""
    mutator = Mutator(random.Random(f"{target}:{index}"), seeds, STRUCTURAL.get(target))
    data = mutator.mutate()
    return data, "; ".join(mutator.log)


# ------------------------------------------------------------------------------------------------ running


@dataclass
class Outcome:
    status: str  # "ok", "refused" (our one-line error) or a failure kind
    error_type: str = ""
    message: str = ""
    where: str = ""


IMAGE_MAX_PIXELS = 1 << 22  # the input limit images are fuzzed under (4 MP; the default is 89.5 MP)
RUNNABLE_TASKS = ("upscale", "denoise", "deblock", "sharpen")
# Checkpoints: every input is read, detected, built and loaded strictly; every FULL_EVERY-th also goes through
# load_model_file (ONNX export, onnxruntime session, a run), which costs 20-150 ms for an accepted file.
FULL_EVERY = {"safetensors": 100, "pth": 100}
ALLOCATION_FAILED = ("bad allocation", "bad_alloc", "Failed to allocate", "Unable to allocate", "out of memory")
RSS_FLAG = 1 << 30  # an input that makes the worker's resident memory grow by more than this is a failure
FAILURE_KINDS = ("exception", "memory", "warning", "multi-line message", "unsafe advice", "hang", "crash")


def _where(error: BaseException) -> str:
    """The innermost frame of the traceback, and the innermost one in acutance if that is elsewhere."""
    frames = traceback.extract_tb(error.__traceback__)
    if not frames:
        return ""

    def short(frame) -> str:
        path = frame.filename
        for marker in ("/src/", "site-packages/", "/lib/python"):
            if marker in path:
                path = path.split(marker, 1)[1]
                break
        return f"{path}:{frame.lineno}"

    ours = [f for f in frames if "/acutance/" in f.filename and "benchmarks" not in f.filename]
    inner = short(frames[-1])
    if ours and ours[-1] is not frames[-1]:
        return f"{short(ours[-1])} -> {inner}"
    return inner


def _chain(error: BaseException):
    seen = set()
    while error is not None and id(error) not in seen:
        seen.add(id(error))
        yield error
        error = error.__cause__ or error.__context__


class Runner:
    """Runs inputs of one target in this process (the worker, or a replay)."""

    def __init__(self, target: str, tmp: Path) -> None:
        self.target = target
        self.path = tmp / f"fuzz{SUFFIX.get(target, '')}"

    def call(self, data: bytes, full: bool = True) -> None:
        """Decode or load ``data``; a model that loads runs once on an 8x8 image. ``full=False`` (checkpoints):
        read, detect, build and load strictly, without the ONNX export every accepted checkpoint goes on to."""
        if self.target in IMAGE_TARGETS:
            from acutance import limits
            from acutance.io import decode_image

            # Under the default 89.5 MP input limit a 786-byte JPEG that declares 8192x8192 decodes, legally,
            # in ~10 s to 1.3 GB: such inputs would only slow the search down, so images run under 4 MP.
            with limits.using(limits.Limits(max_input_pixels=IMAGE_MAX_PIXELS)):
                decode_image(data, f"fuzz.{self.target}")
            return
        self.path.write_bytes(data)
        if not full:
            from acutance.deep.checkpoint import load_checkpoint

            load_checkpoint(self.path)
            return
        from acutance.models.registry import load_model_file

        model = load_model_file(self.path)
        if model.info.task in RUNNABLE_TASKS:
            import numpy as np

            scale = model.info.default_scale or (model.info.scales or (2,))[0]
            out = model(_test_image(8), scale)
            if not isinstance(out, np.ndarray) or out.ndim != 3:
                raise AssertionError(f"model returned {type(out).__name__} {getattr(out, 'shape', '')}")

    def run(self, data: bytes, full: bool = True) -> Outcome:
        from acutance.errors import AcutanceError

        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            try:
                self.call(data, full)
                outcome = Outcome("ok")
            except AcutanceError as error:
                message = str(error)
                outcome = Outcome("refused", type(error).__name__, message[:300])
                if any(isinstance(e, MemoryError) for e in _chain(error)):
                    outcome.status, outcome.where = "memory", _where(next(e for e in _chain(error) if isinstance(e, MemoryError)))
                elif "\n" in message.strip() or not message.strip():
                    outcome.status, outcome.where = "multi-line message", _where(error)
                elif any(word in message for word in UNSAFE_ADVICE):
                    outcome.status, outcome.where = "unsafe advice", _where(error)
            except MemoryError as error:
                outcome = Outcome("memory", type(error).__name__, str(error)[:300], _where(error))
            except RecursionError as error:
                outcome = Outcome("exception", type(error).__name__, str(error)[:300], _where(error))
            except Exception as error:  # noqa: BLE001 (that is what we are looking for)
                outcome = Outcome("exception", type(error).__name__, " ".join(str(error).split())[:300], _where(error))
        if outcome.status == "refused" and any(text in outcome.message for text in ALLOCATION_FAILED):
            outcome.status = "memory"  # an allocation refused under the address-space bound, reported as ours
        ours = [w for w in caught if not issubclass(w.category, (DeprecationWarning, PendingDeprecationWarning))]
        if ours and outcome.status in ("ok", "refused"):
            w = ours[0]
            outcome = Outcome("warning", w.category.__name__, " ".join(str(w.message).split())[:300],
                              f"{Path(w.filename).name}:{w.lineno}")
        return outcome


def _status(field: str) -> int:
    """A /proc/self/status size in bytes (VmSize, VmRSS, VmHWM)."""
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024
    return 0


def _vm_size() -> int:
    return _status("VmSize")


def _reset_peak_rss() -> None:
    """Start VmHWM (peak RSS) afresh, so each input's own peak can be read (Linux clear_refs, value 5)."""
    try:
        Path("/proc/self/clear_refs").write_text("5")
    except OSError:
        pass


def _worker(conn, counter, memory_bytes: int) -> None:
    """Worker process: runs jobs ``(target, start, count)`` sent over ``conn``; ``counter`` is the input index
    being run (the supervisor's view, for hangs and crashes)."""
    import resource

    os.environ.setdefault("OMP_NUM_THREADS", "1")
    shm = Path("/dev/shm")
    tmp = Path(tempfile.mkdtemp(prefix="acutance-fuzz-", dir=shm if shm.is_dir() else None))
    seeds: dict[str, list] = {}
    # fds 1 and 2 go to a file, so what native code (or a library's print) writes is seen and counted per input.
    capture = tempfile.TemporaryFile()
    os.dup2(capture.fileno(), 1)
    os.dup2(capture.fileno(), 2)
    stderr_seen: set[str] = set()
    while True:
        job = conn.recv()
        if job is None:
            break
        target, start, count = job
        if memory_bytes:  # lifted while a target's libraries load and its seeds are built
            resource.setrlimit(resource.RLIMIT_AS, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))
        if target not in seeds:
            if target in ("onnx", "safetensors", "pth"):
                import torch

                torch.set_num_threads(1)
            seeds[target] = build_seeds(target)
            runner = Runner(target, tmp)
            seed_outcomes = {label: runner.run(data).status for label, data in seeds[target]}  # warm-up, and a check
            conn.send(("seeds", target, seed_outcomes))
            if target == "npz":
                _bomb_member()
        runner = Runner(target, tmp)
        if memory_bytes:
            # The bound: this much address space beyond the warm worker (its libraries loaded, seeds built).
            resource.setrlimit(resource.RLIMIT_AS, (_vm_size() + memory_bytes, resource.RLIM_INFINITY))
        tallies: dict[str, int] = {}
        slowest = (0.0, -1)
        every = FULL_EVERY.get(target, 1)
        warm_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
        peak = (warm_rss, -1)
        for index in range(start, start + count):
            counter.value = index
            data, description = make_input(target, index, seeds[target])
            base_rss = _status("VmRSS")
            _reset_peak_rss()
            began = time.perf_counter()
            outcome = runner.run(data, full=index % every == 0)
            elapsed = time.perf_counter() - began
            grew = _status("VmHWM") - base_rss
            if grew > RSS_FLAG and outcome.status in ("ok", "refused"):
                outcome = Outcome("memory", "peak RSS", f"resident memory grew by {grew >> 20} MiB for one input "
                                  f"(then: {outcome.status} {outcome.message[:120]})", "")
            if os.fstat(capture.fileno()).st_size:  # a native library wrote to stderr (libpng, libtiff, ORT...)
                capture.seek(0)
                text = capture.read(400).decode("utf-8", "replace").strip()
                capture.seek(0)
                capture.truncate()
                tallies["stderr"] = tallies.get("stderr", 0) + 1
                line = " ".join(text.split())[:160]
                source = line.split(":", 1)[0][:40]
                if source not in stderr_seen:
                    stderr_seen.add(source)
                    conn.send(("stderr", target, index, description, line))
            if elapsed > slowest[0]:
                slowest = (elapsed, index)
            rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
            if rss > peak[0]:
                peak = (rss, index)
            tallies[outcome.status] = tallies.get(outcome.status, 0) + 1
            if outcome.status not in ("ok", "refused"):
                conn.send(("failure", target, index, description, outcome.__dict__))
        conn.send(("done", target, start, count, tallies, slowest, (peak[0], peak[1], warm_rss)))


class Supervisor:
    """Owns one worker process at a time; restarts it after a hang or a crash, and every ``recycle`` inputs."""

    def __init__(self, timeout: float, memory_bytes: int, recycle: int = 20000) -> None:
        self.timeout, self.memory_bytes, self.recycle = timeout, memory_bytes, recycle
        self.context = multiprocessing.get_context("spawn")
        self.process = None
        self.served = 0

    def _start(self) -> None:
        self.counter = self.context.Value("q", -1, lock=False)
        self.conn, child = self.context.Pipe()
        self.process = self.context.Process(target=_worker, args=(child, self.counter, self.memory_bytes), daemon=True)
        self.process.start()
        child.close()
        self.served = 0

    def stop(self) -> None:
        if self.process is not None:
            if self.process.is_alive():
                try:
                    self.conn.send(None)
                    self.process.join(5)
                except (BrokenPipeError, OSError):
                    pass
            if self.process.is_alive():
                self.process.kill()
            self.process.join()
            self.process = None

    def run(self, target: str, start: int, count: int, on_event) -> dict:
        """Run inputs ``start .. start + count`` of ``target``; ``on_event(kind, payload)`` sees seeds/failures.
        Returns {"tallies", "slowest", "rss"}."""
        summary = {"tallies": {}, "slowest": [0.0, -1], "rss": [0, -1, 0]}
        if getattr(self, "target", None) != target:
            self.stop()  # a fresh worker per target, so its peak RSS is that target's
            self.target = target
        position = start
        end = start + count
        while position < end:
            if self.process is None or not self.process.is_alive() or self.served >= self.recycle:
                self.stop()
                self._start()
            n = min(end - position, max(1, self.recycle - self.served))
            self.conn.send((target, position, n))
            last_index, last_change = self.counter.value, time.monotonic()
            warm = False
            while True:
                if self.conn.poll(0.2):
                    try:
                        message = self.conn.recv()
                    except EOFError:
                        message = None
                    if message is None:
                        continue
                    if message[0] == "seeds":
                        warm = True
                        last_change = time.monotonic()
                        on_event("seeds", message[2])
                    elif message[0] == "failure":
                        on_event("failure", {"index": message[2], "reproducer": message[3], **message[4]})
                    elif message[0] == "stderr":
                        on_event("stderr", {"index": message[2], "reproducer": message[3], "text": message[4]})
                    elif message[0] == "done":
                        _, _, _, n_done, tallies, slowest, rss = message
                        for key, value in tallies.items():
                            summary["tallies"][key] = summary["tallies"].get(key, 0) + value
                        if slowest[0] > summary["slowest"][0]:
                            summary["slowest"] = list(slowest)
                        if rss[0] > summary["rss"][0]:
                            summary["rss"] = list(rss)
                        position += n_done
                        self.served += n_done
                        break
                    continue
                index = self.counter.value
                now = time.monotonic()
                if index != last_index:
                    last_index, last_change = index, now
                    warm = True
                alive = self.process.is_alive()
                # The first job of a worker imports libraries and builds seeds: allow it a minute.
                limit = self.timeout if warm else max(self.timeout, 120.0)
                if alive and now - last_change <= limit:
                    continue
                # A hang or a crash at input ``index``: record it and go on after it with a fresh worker.
                kind = "hang" if alive else "crash"
                exitcode = self.process.exitcode
                self.stop()
                if index < position:
                    index = position  # died before starting: blame the first input of the job
                done_here = index - position
                summary["tallies"][kind] = summary["tallies"].get(kind, 0) + 1
                summary["tallies"]["unreported"] = summary["tallies"].get("unreported", 0) + done_here
                seeds_for_replay = None
                description = ""
                try:
                    seeds_for_replay = build_seeds(target)
                    description = make_input(target, index, seeds_for_replay)[1]
                except Exception as error:  # noqa: BLE001
                    description = f"(cannot rebuild the input here: {error})"
                detail = f"over {self.timeout:g} s" if kind == "hang" else f"worker exit code {exitcode}"
                on_event("failure", {"index": index, "reproducer": description, "status": kind,
                                     "error_type": kind, "message": detail, "where": ""})
                position = index + 1
                break
        return summary


# ---------------------------------------------------------------------------------------------- results


def _load() -> dict:
    if JSON_PATH.is_file():
        return json.loads(JSON_PATH.read_text())
    return {"targets": {}}


def _save(results: dict) -> None:
    JSON_PATH.parent.mkdir(parents=True, exist_ok=True)
    tmp = JSON_PATH.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(results, indent=1, sort_keys=True))
    tmp.replace(JSON_PATH)


def _record(entry: dict, failure: dict) -> None:
    key = [failure["status"], failure["error_type"], failure["where"]]
    for known in entry["failures"]:
        if known["key"] == key:
            known["count"] += 1
            return False
    entry["failures"].append({"key": key, "count": 1, "first_index": failure["index"], "message": failure["message"],
                              "reproducer": failure["reproducer"], "fixed": False})
    return True


def fuzz(targets, inputs: int, chunk: int, timeout: float, memory_mib: int, fresh: bool) -> dict:
    results = _load()
    results["settings"] = {"timeout_s": timeout, "memory_bound_mib": memory_mib, "workers": 1,
                           "mutation": "random.Random(f'{target}:{index}')"}
    results["machine"] = common.machine()
    supervisor = Supervisor(timeout, memory_mib << 20)
    try:
        for target in targets:
            entry = results["targets"].get(target)
            if entry is None or fresh:
                earlier = (entry or {}).get("found_earlier", []) + (entry or {}).get("failures", [])
                entry = {"inputs": 0, "outcomes": {}, "failures": [], "found_earlier": earlier, "time_s": 0.0,
                         "peak_rss_mib": 0.0, "slowest_input": [0.0, -1], "seeds": {}}
                results["targets"][target] = entry
                _save(results)
            while entry["inputs"] < inputs:
                n = min(chunk, inputs - entry["inputs"])
                began = time.monotonic()

                def on_event(kind, payload, entry=entry):
                    if kind == "seeds":
                        entry["seeds"] = payload
                    elif kind == "stderr":
                        samples = entry.setdefault("stderr_samples", [])
                        if len(samples) < 12:
                            samples.append(payload)
                    elif _record(entry, payload):
                        print(f"  {target} #{payload['index']}: {payload['status']} {payload['error_type']}: "
                              f"{payload['message'][:120]} [{payload['where']}]", flush=True)

                summary = supervisor.run(target, entry["inputs"], n, on_event)
                entry["inputs"] += n
                entry["time_s"] = round(entry["time_s"] + time.monotonic() - began, 1)
                for key, value in summary["tallies"].items():
                    entry["outcomes"][key] = entry["outcomes"].get(key, 0) + value
                peak_mib = round(summary["rss"][0] / (1 << 20), 1)
                if peak_mib > entry["peak_rss_mib"]:
                    entry["peak_rss_mib"] = peak_mib
                    entry["peak_rss_input"] = summary["rss"][1]  # -1: reached while warming up (seeds, imports)
                    entry["warm_rss_mib"] = round(summary["rss"][2] / (1 << 20), 1)
                if summary["slowest"][0] > entry["slowest_input"][0]:
                    entry["slowest_input"] = [round(summary["slowest"][0], 3), summary["slowest"][1]]
                _save(results)
                rate = entry["inputs"] / max(entry["time_s"], 1e-9)
                print(f"{target}: {entry['inputs']} inputs, {entry['outcomes']}, {rate:.0f}/s, "
                      f"peak RSS {entry['peak_rss_mib']} MiB", flush=True)
    finally:
        supervisor.stop()
    return results


def replay(target: str, index: int) -> None:
    seeds = build_seeds(target)
    data, description = make_input(target, index, seeds)
    print(f"{target} #{index}: {description} ({len(data)} bytes)")
    with tempfile.TemporaryDirectory() as tmp:
        runner = Runner(target, Path(tmp))
        print(runner.run(data))
        try:
            runner.call(data)
        except Exception:  # noqa: BLE001
            traceback.print_exc()


def recheck(results: dict, timeout: float, memory_mib: int) -> None:
    """Re-run the first input of every failure recorded in the current runs and mark those that now pass.
    (Failures under ``found_earlier`` came from earlier versions of the mutators: their indices no longer
    rebuild the same inputs; the tests in tests/test_fuzz.py pin those.)"""
    supervisor = Supervisor(timeout, memory_mib << 20)
    try:
        for target, entry in results["targets"].items():
            for failure in entry.get("failures", []):
                statuses = []
                summary = supervisor.run(target, failure["first_index"], 1,
                                         lambda kind, payload: statuses.append(payload.get("status")) if kind == "failure" else None)
                failure["fixed"] = not statuses and not any(k in summary["tallies"] for k in ("hang", "crash"))
                print(f"{target} #{failure['first_index']} {failure['key']}: {'fixed' if failure['fixed'] else 'STILL FAILS'}")
    finally:
        supervisor.stop()
    _save(results)


def _in_order(results: dict):
    return [(t, results["targets"][t]) for t in TARGETS if t in results["targets"]]


def markdown(results: dict) -> str:
    settings = results.get("settings", {})
    lines = [
        "# Fuzzing: image decoders and model-file loaders",
        "",
        "`benchmarks/fuzz.py`: mutated real files (bit flips, boundary integers, truncation, splices and",
        "format-aware edits with valid checksums) through `acutance.io.decode_image` and",
        "`acutance.models.registry.load_model_file` (a model that loads is also run on an 8x8 image). A failure is",
        "anything but success or one-line `AcutanceError` without unsafe-loading advice: another exception, a",
        f"Python warning, a hang (over {settings.get('timeout_s', '?')} s for one input), a crash, a MemoryError (or",
        f"an allocation refused) under the bound of {settings.get('memory_bound_mib', '?')} MiB of address space over",
        f"the warm worker, or an input whose own peak resident memory exceeds the worker's by {RSS_FLAG >> 20} MiB.",
        "One worker process, inputs deterministic (`--replay TARGET:INDEX` rebuilds one). Images are decoded",
        f"under an input limit of {IMAGE_MAX_PIXELS / 1e6:.1f} MP (`--max-pixels`), so that files declaring large",
        "sizes are refused at once rather than legitimately decoded for seconds; model files under the default",
        "limits. Warm RSS: the worker after imports and seeds; peak RSS: its maximum over the target's inputs.",
        "",
        "| target | inputs | loaded / decoded | refused (our error) | failures | time (s) | inputs/s | slowest input (s) | warm RSS (MiB) | peak RSS (MiB) |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for target, e in _in_order(results):
        o = e["outcomes"]
        bad = sum(v for k, v in o.items() if k not in ("ok", "refused", "unreported", "stderr"))
        rate = e["inputs"] / e["time_s"] if e["time_s"] else 0
        lines.append(f"| {target} | {e['inputs']:,} | {o.get('ok', 0):,} | {o.get('refused', 0):,} | {bad} | "
                     f"{e['time_s']:.0f} | {rate:.0f} | {e['slowest_input'][0]:.2f} | {e.get('warm_rss_mib', 0):.0f} | "
                     f"{e['peak_rss_mib']:.0f} |")
    lines += ["", "## Failures found", ""]
    any_failure = False
    for target, e in _in_order(results):
        now = {(f["key"][0], f["key"][1], f["key"][2].split(":")[0]) for f in e["failures"]}
        for label, group in (("this run", e["failures"]), ("earlier pass", e.get("found_earlier", []))):
            for f in group:
                any_failure = True
                kind, etype, where = f["key"]
                if label == "this run":
                    status = "fixed during the run: its input now passes (`--recheck`)" if f.get("fixed") else "**open**"
                elif (kind, etype, where.split(":")[0]) in now:
                    status = "seen again in this run (above)"
                else:
                    status = f"fixed before this run: not seen in its {e['inputs']:,} inputs"
                lines.append(f"- **{target}** ({label}, {f['count']} inputs, first #{f['first_index']}): {kind} "
                             f"`{etype}` at `{where}`: {f['message'][:160]}. Input: {f['reproducer'][:200]}. {status}.")
    if not any_failure:
        lines.append("None.")
    lines += ["", "## Output written by native code or library prints (not failures: counted, with samples)", ""]
    for target, e in _in_order(results):
        count = e["outcomes"].get("stderr", 0)
        if count:
            lines.append(f"- **{target}**: {count:,} inputs; e.g. " + "; ".join(
                f"`{s['text'][:90]}`" for s in e.get("stderr_samples", [])[:3]))
    notes = results.get("notes", [])
    if notes:
        lines += ["", "## Notes", ""] + [f"- {note}" for note in notes]
    return "\n".join(lines) + "\n"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--targets", default=",".join(DEFAULT_ORDER))
    parser.add_argument("--inputs", type=int, default=100_000, help="inputs per target (default 100000)")
    parser.add_argument("--chunk", type=int, default=5000, help="inputs between saves of the results")
    parser.add_argument("--timeout", type=float, default=10.0, help="seconds one input may take")
    parser.add_argument("--memory-mib", type=int, default=1536, help="address space an input may add (MiB)")
    parser.add_argument("--fresh", action="store_true", help="start the targets over")
    parser.add_argument("--recheck", action="store_true", help="re-run recorded failures, mark the fixed ones")
    parser.add_argument("--replay", metavar="TARGET:INDEX", help="run one input here, with its traceback")
    parser.add_argument("--markdown-only", action="store_true")
    args = parser.parse_args()
    if args.replay:
        target, index = args.replay.split(":")
        replay(target, int(index))
        return 0
    if args.markdown_only:
        results = _load()
    elif args.recheck:
        results = _load()
        recheck(results, args.timeout, args.memory_mib)
    else:
        targets = [t for t in args.targets.split(",") if t]
        unknown = sorted(set(targets) - set(TARGETS))
        if unknown:
            parser.error(f"unknown targets {unknown}; known: {', '.join(TARGETS)}")
        results = fuzz(targets, args.inputs, args.chunk, args.timeout, args.memory_mib, args.fresh)
    MD_PATH.write_text(markdown(results))
    print(f"wrote {JSON_PATH} and {MD_PATH}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
