"""The final mux: the segments' video packets + the input's audio and subtitle packets, copied unchanged."""

from __future__ import annotations

import heapq
import json
import os
import secrets
import sys
from pathlib import Path

from acutance.video.encode import EncoderSettings, read_packets, segment_name
from acutance.video.errors import VideoWriteError
from acutance.video.probe import main_video_stream

CONTAINERS = {".mp4": "mp4", ".m4v": "mp4", ".mov": "mov", ".mkv": "matroska", ".webm": "webm"}
COPIED_TYPES = ("audio", "subtitle")


def container_format(path: Path) -> str:
    try:
        return CONTAINERS[path.suffix.lower()]
    except KeyError:
        known = ", ".join(sorted(CONTAINERS))
        raise VideoWriteError(f"cannot write {path}: unknown video extension {path.suffix!r} (use {known})") from None


def _video_packets(folder: Path, count: int, stream, time_base):
    import av

    last_dts = None
    for index in range(count):
        for pts, dts, duration, key, data in read_packets(folder / f"{segment_name(index)}.pkt"):
            # Each segment's encoder starts its dts a little before its first pts (B-frame delay); with a
            # very uneven variable frame rate that can touch the previous segment's last dts. One tick later
            # is still a valid dts as long as it does not pass the pts.
            if last_dts is not None and dts <= last_dts:
                dts = last_dts + 1
                if dts > pts:
                    raise VideoWriteError(f"segment {index} in {folder} cannot follow the previous one in time")
            last_dts = dts
            packet = av.Packet(data)
            packet.pts, packet.dts, packet.time_base = pts, dts, time_base
            if duration:
                packet.duration = duration
            packet.is_keyframe = key
            packet.stream = stream
            yield packet


def _copied_packets(container, mapping: dict, converted: set):
    import av

    for packet in container.demux(*mapping):
        if packet.dts is None and packet.pts is None:
            continue  # the demuxer's end-of-stream marker
        if packet.stream.codec_context.name == "mov_text" and bytes(packet) == b"\x00\x00":
            continue  # an empty cue filling a gap: the mp4 muxer writes its own (copying it would double it)
        target = mapping[packet.stream]
        if packet.stream in converted:
            text = av.Packet(subrip_to_mov_text(bytes(packet)))
            text.pts, text.dts, text.time_base = packet.pts, packet.dts, packet.time_base
            text.duration = packet.duration
            packet = text
        packet.stream = target
        yield packet


def subrip_to_mov_text(data: bytes) -> bytes:
    """A SubRip cue as an mp4 (3GPP timed text) sample: 2-byte length + UTF-8 text; tags such as <i> dropped."""
    import re

    text = re.sub(rb"</?[a-zA-Z][^>]*>", b"", data)[:65535]
    return len(text).to_bytes(2, "big") + text


def _kept_tags(tags: dict, stale: tuple[str, ...]) -> dict:
    # DURATION (Matroska) and the video ENCODER tag describe the old stream; the muxer writes fresh ones.
    return {k: v for k, v in tags.items() if k.lower() not in stale}


def _seconds(packet) -> float:
    stamp = packet.dts if packet.dts is not None else packet.pts
    return float(stamp * packet.time_base) if stamp is not None else 0.0


def mux(
    source: Path, target: Path, folder: Path, count: int, settings: EncoderSettings, *, overwrite: bool,
    rotation: int = 0, default: bool = False,
) -> None:
    """Write ``target`` atomically from ``count`` segments in ``folder`` and the input's other streams.

    rotation: the input's display rotation (degrees counter-clockwise), written back as display-matrix side
    data. PyAV cannot set stream side data, so a rotated result is remuxed (stream copy) by the ffmpeg of
    imageio-ffmpeg with ``-display_rotation``.
    default: the input's video stream was marked 'default' (Matroska's FlagDefault); the output's is too.
    """
    import av

    extradata = {json.loads((folder / f"{segment_name(i)}.json").read_text())["extradata"] for i in range(count)}
    if len(extradata) != 1:
        raise VideoWriteError(f"segments in {folder} were encoded with different parameters; rerun with --restart")
    expected = bytes.fromhex(extradata.pop())
    temp = target.with_name(f".{target.stem}.{secrets.token_hex(6)}.tmp{target.suffix}")
    try:
        with av.open(str(source)) as src, av.open(str(temp), "w", format=container_format(target)) as out:
            out.metadata.update({k: v for k, v in src.metadata.items() if k.lower() != "encoder"})
            video_in = main_video_stream(src)
            video = out.add_stream(settings.encoder, rate=settings.rate)
            settings.configure(video.codec_context)
            video.time_base = settings.time_base
            video.metadata.update(_kept_tags(video_in.metadata, stale=("encoder", "duration")))
            if default:
                video.disposition = av.stream.Disposition.default
            if settings.sample_aspect_ratio:  # the container's copy (mp4 pasp, Matroska display size)
                video.sample_aspect_ratio = settings.sample_aspect_ratio
            mapping, converted = {}, set()
            for stream in src.streams:
                if stream.type not in COPIED_TYPES:
                    continue
                try:
                    copy = out.add_stream_from_template(stream)
                except (ValueError, av.error.FFmpegError):
                    if stream.codec_context.name in ("subrip", "srt") and container_format(target) in ("mp4", "mov"):
                        # mp4 has no SubRip: convert the text (the only change made to a copied stream)
                        copy = out.add_mux_stream("mov_text")
                        copy.time_base = stream.time_base
                        copy.metadata.update(_kept_tags(stream.metadata, stale=("duration",)))
                        mapping[stream] = copy
                        converted.add(stream)
                        continue
                    hint = "" if container_format(target) == "matroska" else " (.mkv holds most kinds)"
                    print(
                        f"acutance: warning: {target.suffix} cannot hold {stream.type} stream #{stream.index} "
                        f"({stream.codec_context.name}); it is left out{hint}",
                        file=sys.stderr,
                    )
                    continue
                copy.metadata.update(_kept_tags(stream.metadata, stale=("duration",)))
                copy.disposition = stream.disposition
                mapping[stream] = copy
            out.start_encoding()
            if (video.codec_context.extradata or b"") != expected:
                raise VideoWriteError(
                    f"encoder parameter sets differ from the segments' in {folder}; rerun with --restart"
                )
            video_packets = _video_packets(folder, count, video, settings.time_base)
            copied = _copied_packets(src, mapping, converted) if mapping else iter(())
            # Merge by time so the muxer's interleaving queue stays short.
            for packet in heapq.merge(video_packets, copied, key=_seconds):
                out.mux(packet)
        if rotation:
            _set_rotation(temp, rotation)
        _move_into_place(temp, target, overwrite=overwrite)
    except av.error.FFmpegError as error:
        raise VideoWriteError(f"cannot write {target}: {error}") from None
    finally:
        temp.unlink(missing_ok=True)


def _set_rotation(path: Path, rotation: int) -> None:
    import subprocess

    try:
        import imageio_ffmpeg
    except ImportError:
        print(f"acutance: warning: rotation {rotation} not written: needs imageio-ffmpeg", file=sys.stderr)
        return
    rotated = path.with_name(path.name + ".rot" + path.suffix)
    command = [imageio_ffmpeg.get_ffmpeg_exe(), "-hide_banner", "-nostdin", "-loglevel", "error", "-y"]
    command += ["-display_rotation:v:0", str(rotation), "-i", str(path), "-map", "0", "-c", "copy"]
    command += ["-map_metadata", "0", "-f", container_format(path), str(rotated)]
    done = subprocess.run(command, capture_output=True, text=True)
    if done.returncode != 0:
        rotated.unlink(missing_ok=True)
        last = (done.stderr.strip().splitlines() or ["no message"])[-1]
        raise VideoWriteError(f"cannot write the rotation of {path.name}: {last}")
    os.replace(rotated, path)


def _move_into_place(temp: Path, target: Path, *, overwrite: bool) -> None:
    if overwrite:
        os.replace(temp, target)
        return
    try:
        os.link(temp, target)  # fails if the target appeared meanwhile: never clobber a kept file
    except FileExistsError:
        raise VideoWriteError(f"{target} exists; pass --overwrite to replace it") from None
    except OSError:
        if target.exists():
            raise VideoWriteError(f"{target} exists; pass --overwrite to replace it") from None
        os.replace(temp, target)
