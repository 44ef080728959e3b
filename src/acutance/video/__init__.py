"""Video: enhance a clip with any registered model keeping audio, subtitles, timing and colour; compare clips.

Needs the ``video`` extra (PyAV; VMAF uses the ffmpeg of ``imageio-ffmpeg``). Modules: ``probe`` (open and
describe), ``frames`` (frames <-> float32 RGB, 10-bit safe), ``encode`` (codecs, resumable segments), ``mux``
(final file, streams copied), ``temporal`` (flicker reduction), ``enhance`` (the driver), ``compare``
(PSNR/SSIM/VMAF per frame, side-by-side).
"""

from acutance.video.enhance import VideoOptions, VideoReport, enhance_video
from acutance.video.errors import VideoInterrupted, VideoReadError, VideoWriteError

__all__ = ["VideoInterrupted", "VideoOptions", "VideoReadError", "VideoReport", "VideoWriteError", "enhance_video"]
