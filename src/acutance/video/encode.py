"""Encoder settings and the segment files a resumable run is made of.

Each segment is an independent encoder session (it starts with a keyframe and references nothing outside),
stored as raw packets with their exact timestamps in the input stream's time base. The final mux copies the
packets of all segments into one stream: decoding that stream gives exactly the frames each segment's encoder
made, so a resumed run (which re-encodes only missing segments, from the same frames) decodes to the same
frames as an uninterrupted one. We chose this over lossless intermediates + one final encode because that costs
a second full encode and tens of GB of disk for long clips; the price is one keyframe per segment.
"""

from __future__ import annotations

import json
import os
import struct
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from acutance.errors import OptionError

# codec option -> (encoder, default CRF, default preset, extra options)
CODECS: dict[str, tuple[str, int, str | None, dict[str, str]]] = {
    # veryfast/fast: on 2 cores x264 medium alone caps 720p at about 5 fps; CRF keeps the quality, files are
    # larger (pass --preset medium or slower for smaller files).
    "h264": ("libx264", 18, "veryfast", {}),
    "h265": ("libx265", 22, "fast", {"x265-params": "log-level=error"}),
    "vp9": ("libvpx-vp9", 32, None, {"b": "0", "row-mt": "1", "deadline": "good", "cpu-used": "4"}),
    "av1": ("libsvtav1", 32, "8", {}),
}
PIX_FMTS = ("yuv420p", "yuv420p10le")
_PACKET = struct.Struct("<qqqiI")  # pts, dts, duration, keyframe, size
_GLOBAL_HEADER = 1 << 22  # AV_CODEC_FLAG_GLOBAL_HEADER: parameter sets in extradata, as mp4/mkv want


@dataclass(frozen=True)
class EncoderSettings:
    codec: str
    crf: int
    preset: str | None
    pix_fmt: str
    width: int
    height: int
    time_base: Fraction
    rate: Fraction | None
    color_primaries: int
    color_trc: int
    colorspace: int
    color_range: int
    sample_aspect_ratio: Fraction | None = None  # None: square pixels

    @property
    def encoder(self) -> str:
        return CODECS[self.codec][0]

    def options(self) -> dict[str, str]:
        _, _, _, extra = CODECS[self.codec]
        options = dict(extra)
        options["crf"] = str(self.crf)
        if self.preset is not None:
            options["preset"] = self.preset
        return options

    def configure(self, ctx) -> None:
        """Set up an encoder context: the segments and the final mux stream must agree exactly."""
        ctx.width, ctx.height, ctx.pix_fmt = self.width, self.height, self.pix_fmt
        ctx.time_base = self.time_base
        if self.rate:
            ctx.framerate = self.rate
        ctx.color_primaries = self.color_primaries
        ctx.color_trc = self.color_trc
        ctx.colorspace = self.colorspace
        ctx.color_range = self.color_range
        if self.sample_aspect_ratio:  # in the bitstream (H.264/HEVC VUI) and, via the mux, the container
            ctx.sample_aspect_ratio = self.sample_aspect_ratio
        ctx.options = self.options()
        ctx.flags |= _GLOBAL_HEADER


def check_codec(codec: str, crf: int | None, pix_fmt: str | None) -> None:
    import av

    if codec not in CODECS:
        raise OptionError(f"--codec must be one of {', '.join(CODECS)}, got {codec!r}")
    if CODECS[codec][0] not in av.codecs_available:
        raise OptionError(f"codec {codec} needs the {CODECS[codec][0]} encoder, which this PyAV build lacks")
    top = 51 if codec in ("h264", "h265") else 63  # x264/x265 would silently clamp a CRF above 51
    if crf is not None and not 0 <= crf <= top:
        raise OptionError(f"--crf for {codec} must be in 0..{top}, got {crf}")
    if pix_fmt is not None and pix_fmt not in PIX_FMTS:
        raise OptionError(f"--pix-fmt must be one of {', '.join(PIX_FMTS)}, got {pix_fmt!r}")


class SegmentWriter:
    """Encode frames of one segment into ``NAME.pkt`` (+ ``NAME.json`` written last: the completion mark)."""

    def __init__(self, folder: Path, index: int, settings: EncoderSettings) -> None:
        import av

        if settings.codec == "av1":
            os.environ.setdefault("SVT_LOG", "1")  # SVT-AV1 prints its whole configuration otherwise
        self.stem = folder / segment_name(index)
        self.temp = self.stem.with_suffix(".pkt.tmp")
        self.ctx = av.CodecContext.create(settings.encoder, "w")
        settings.configure(self.ctx)
        self.ctx.open()
        self.handle = open(self.temp, "wb")
        self.frames = 0
        self.packets = 0

    def _write(self, packets) -> None:
        for packet in packets:
            data = bytes(packet)
            duration = packet.duration or 0
            self.handle.write(_PACKET.pack(packet.pts, packet.dts, duration, int(packet.is_keyframe), len(data)))
            self.handle.write(data)
            self.packets += 1

    def encode(self, frame) -> None:
        self._write(self.ctx.encode(frame))
        self.frames += 1

    def finish(self, extra: dict | None = None) -> None:
        self._write(self.ctx.encode(None))
        self.handle.flush()
        os.fsync(self.handle.fileno())
        self.handle.close()
        os.replace(self.temp, self.stem.with_suffix(".pkt"))
        meta = {"frames": self.frames, "packets": self.packets, "extradata": (self.ctx.extradata or b"").hex()}
        meta |= extra or {}
        write_json_atomic(self.stem.with_suffix(".json"), meta)

    def abort(self) -> None:
        self.handle.close()
        self.temp.unlink(missing_ok=True)


def segment_name(index: int) -> str:
    return f"segment_{index:05d}"


def read_packets(path: Path):
    """Yield ``(pts, dts, duration, keyframe, bytes)`` of a segment's packet file."""
    with open(path, "rb") as handle:
        while header := handle.read(_PACKET.size):
            pts, dts, duration, key, size = _PACKET.unpack(header)
            yield pts, dts, duration, bool(key), handle.read(size)


def write_json_atomic(path: Path, payload: dict) -> None:
    temp = path.with_name(path.name + ".tmp")
    temp.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    os.replace(temp, path)


def write_clip(path: str | Path, frames, fps: float = 24.0, *, crf: int = 12, preset: str = "medium") -> Path:
    """A list of float32 RGB frames as an H.264 (yuv420p) file, for tests and benchmarks that need a clip."""
    import fractions

    import av
    import numpy as np

    with av.open(str(path), "w") as container:
        stream = container.add_stream("libx264", rate=fractions.Fraction(fps).limit_denominator(1001))
        stream.height, stream.width = frames[0].shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.codec_context.options = {"crf": str(crf), "preset": preset}
        for rgb in frames:
            frame = av.VideoFrame.from_ndarray((np.clip(rgb, 0, 1) * 255 + 0.5).astype(np.uint8), format="rgb24")
            for packet in stream.encode(frame.reformat(format="yuv420p")):
                container.mux(packet)
        for packet in stream.encode(None):
            container.mux(packet)
    return Path(path)
