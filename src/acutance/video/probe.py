"""Open a video and describe its video stream; every failure is a ``VideoReadError`` with one line."""

from __future__ import annotations

import os
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path

from acutance.video.errors import VideoReadError

HIGH_BIT_FORMATS = ("p10", "p12", "p16")


@dataclass(frozen=True)
class VideoInfo:
    """What the enhancer keeps from the input's video stream."""

    path: Path
    container: str
    width: int
    height: int
    pix_fmt: str
    time_base: Fraction
    rate: Fraction | None  # average frame rate (None when the container does not say)
    frames: int  # from the container; 0 when unknown
    duration: float | None  # seconds of the video stream (None when unknown)
    start_pts: int | None
    color_primaries: int
    color_trc: int
    colorspace: int
    color_range: int
    codec: str
    # Shape of a pixel (None: square). Kept, so a 640x360 SAR 3:4 clip still displays 4:3 at 1280x720.
    sample_aspect_ratio: Fraction | None = None
    default: bool = False  # the stream's 'default' disposition (Matroska's FlagDefault), kept on the output

    @property
    def high_bit_depth(self) -> bool:
        return any(tag in self.pix_fmt for tag in HIGH_BIT_FORMATS)

    @property
    def frame_seconds(self) -> float:
        return float(1 / self.rate) if self.rate else 1 / 25

    def estimated_frames(self) -> int | None:
        if self.frames:
            return self.frames
        if self.duration and self.rate:
            return round(self.duration * float(self.rate))
        return None


def open_input(path: str | os.PathLike):
    """``av.open`` with our errors: missing file, not a media file, truncated header."""
    import av

    source = Path(path)
    if not source.exists():
        raise VideoReadError(f"{source}: no such file")
    if source.is_dir():
        raise VideoReadError(f"{source}: is a folder, not a video file")
    try:
        return av.open(str(source), "r")
    except av.error.FFmpegError as error:
        reason = getattr(error, "strerror", None) or str(error)
        raise VideoReadError(f"cannot read {source} as a video: {reason} (not a video file, or truncated)") from None


def main_video_stream(container):
    """The first video stream that is not cover art (an attached picture is a one-frame 'video' stream)."""
    import av

    for stream in container.streams.video:
        if not stream.disposition & av.stream.Disposition.attached_pic:
            return stream
    return None


def probe(path: str | os.PathLike) -> VideoInfo:
    """Describe the first video stream of ``path``; ``VideoReadError`` if there is none."""
    source = Path(path)
    with open_input(source) as container:
        stream = main_video_stream(container)
        if stream is None:
            kinds = ", ".join(sorted({s.type for s in container.streams})) or "no streams"
            raise VideoReadError(f"{source}: no video stream (it has {kinds})")
        ctx = stream.codec_context
        if not ctx.width or not ctx.height:
            raise VideoReadError(f"{source}: the video stream has no frame size (truncated or corrupt)")
        return _describe(source, container, stream, ctx)


def _stream_seconds(container, stream) -> float | None:
    """The video stream's own duration: Matroska's DURATION tag, or the track duration (mp4, mov).

    Not the container's duration, which is the longest stream's (audio or a late subtitle cue); Matroska's
    demuxer reports that one as every stream's duration, so there only the tag counts.
    """
    tag = stream.metadata.get("DURATION") or stream.metadata.get("duration")
    if tag:
        try:
            hours, minutes, seconds = tag.split(":")
            return int(hours) * 3600 + int(minutes) * 60 + float(seconds)
        except ValueError:
            return None
    if "matroska" in container.format.name:
        return None
    if stream.duration is not None and stream.time_base:
        return float(stream.duration * stream.time_base)
    return None


def _sample_aspect_ratio(stream, ctx) -> Fraction | None:
    """The container's SAR if it gives one (Matroska's display size, mp4's pasp), else the bitstream's."""
    for value in (stream.sample_aspect_ratio, ctx.sample_aspect_ratio):
        if value and value > 0 and value != 1:
            return Fraction(value)
        if value == 1:
            return None
    return None


def _describe(source: Path, container, stream, ctx) -> VideoInfo:
    import av

    duration = _stream_seconds(container, stream)
    return VideoInfo(
        path=source,
        container=container.format.name,
        width=ctx.width,
        height=ctx.height,
        pix_fmt=ctx.pix_fmt or "yuv420p",
        time_base=stream.time_base,
        rate=stream.average_rate or stream.base_rate or stream.guessed_rate,
        frames=int(stream.frames or 0),
        duration=duration,
        start_pts=stream.start_time,
        color_primaries=int(ctx.color_primaries),
        color_trc=int(ctx.color_trc),
        colorspace=int(ctx.colorspace),
        color_range=int(ctx.color_range),
        codec=ctx.name,
        sample_aspect_ratio=_sample_aspect_ratio(stream, ctx),
        default=bool(stream.disposition & av.stream.Disposition.default),
    )
