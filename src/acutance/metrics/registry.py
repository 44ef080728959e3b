"""The metric registry: every quality measure we ship, named once, in pyiqa's style.

A row says what a metric is (which inputs it takes, which way is better, its range, how to print it) and where
its function lives (``"module:function"``, imported only when the metric is first used: NIQE's numba kernels,
face quality's dlib and VMAF's ffmpeg stay unloaded until asked for). The CLI (``acutance metrics``), the
file/folder evaluation (:mod:`acutance.metrics.evaluate`), the web page and the benchmarks read this table.

    >>> from acutance.metrics import registry
    >>> [m.name for m in registry.list_metrics("full-reference")]
    ['psnr', 'ssim', 'ms_ssim']
    >>> registry.metric_info("niqe").lower_is_better
    True
    >>> registry.compute("psnr", ref, dist, crop_border=4, y_channel=True)  # doctest: +SKIP

Inputs by kind: ``full-reference`` metrics take ``(ref, dist)``, two float32 HxWx3 RGB images in [0, 1] of one
size, and the channel options ``crop_border``, ``y_channel``, ``gray``; ``no-reference`` metrics take one such
image; ``video`` metrics take two video file paths ``(ref, dist)``. Every ``compute`` returns one float.
"""

from __future__ import annotations

import importlib
import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from acutance.errors import ModelError, OptionError

Kind = Literal["full-reference", "no-reference", "video"]
KINDS: tuple[str, ...] = ("full-reference", "no-reference", "video")
CHANNEL_OPTIONS = ("crop_border", "y_channel", "gray")  # what the full-reference image metrics all take


@dataclass(frozen=True)
class MetricInfo:
    """One metric.

    name: registry key (``psnr``, ``ms_ssim``); ``-`` in a user's spelling is read as ``_``.
    kind: ``full-reference``, ``no-reference`` or ``video`` (see the module notes for the inputs).
    lower_is_better: the direction of the score.
    range: (lowest, highest) value the score can take; ``math.inf`` for an open end.
    summary: one line for help texts and ``acutance metrics --list``.
    loader: ``"module:function"`` computing the score.
    unit: printed after values and in column names (``psnr_db``); empty for none.
    digits: decimals when printed.
    extra: the package extra it needs beyond the core (``pip install 'acutance[EXTRA]'``), if any.
    options: keyword options the function takes.
    """

    name: str
    kind: Kind
    lower_is_better: bool
    range: tuple[float, float]
    summary: str
    loader: str
    unit: str = ""
    digits: int = 4
    extra: str = ""
    options: tuple[str, ...] = ()

    @property
    def column(self) -> str:
        """The column name of tables and CSV headers: the name, with the unit when there is one."""
        return f"{self.name}_{self.unit.lower()}" if self.unit else self.name

    @property
    def better(self) -> str:
        return "lower" if self.lower_is_better else "higher"

    def format(self, value: float) -> str:
        if math.isnan(value):
            return "nan"
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        return f"{value:.{self.digits}f}"


_METRICS = (
    MetricInfo(
        "psnr", "full-reference", False, (0.0, math.inf),
        "peak signal-to-noise ratio on the 0-255 scale (identical images: inf)",
        "acutance.metrics.psnr:psnr", unit="dB", digits=4, options=CHANNEL_OPTIONS,
    ),
    MetricInfo(
        "ssim", "full-reference", False, (-1.0, 1.0),
        "structural similarity, Wang et al.'s ssim_index (11x11 Gaussian window, sigma 1.5)",
        "acutance.metrics.ssim:ssim", digits=6, options=CHANNEL_OPTIONS,
    ),
    MetricInfo(
        "ms_ssim", "full-reference", False, (0.0, 1.0),
        "5-scale MS-SSIM (Wang, Simoncelli and Bovik 2003)",
        "acutance.metrics.ssim:ms_ssim", digits=6, options=CHANNEL_OPTIONS,
    ),
    MetricInfo(
        "niqe", "no-reference", True, (0.0, math.inf),
        "NIQE naturalness with our pristine model (needs two 96x96 patches)",
        "acutance.metrics.niqe:niqe", digits=4, options=("model",),
    ),
    MetricInfo(
        "face_quality", "no-reference", False, (-math.inf, math.inf),
        "SDD-FIQA-style quality of the largest face (LFW labels run 0 to about 0.2)",
        "acutance.faces.quality:face_quality", digits=4, extra="faces", options=("face", "model"),
    ),
    MetricInfo(
        "vmaf", "video", False, (0.0, 100.0),
        "VMAF v0.6.1 of a video against its reference, mean over frames (libvmaf in ffmpeg)",
        "acutance.metrics.registry:_vmaf_mean", digits=4, extra="video", options=("frames", "threads"),
    ),
)
METRICS: dict[str, MetricInfo] = {info.name: info for info in _METRICS}


def _canonical(name: str) -> str:
    return str(name).strip().lower().replace("-", "_")


def list_metrics(kind: str | None = None) -> list[MetricInfo]:
    """The registered metrics in table order, or only those of ``kind``."""
    if kind is not None and kind not in KINDS:
        raise OptionError(f"unknown metric kind {kind!r}: choose from {', '.join(KINDS)}")
    return [info for info in _METRICS if kind is None or info.kind == kind]


def metric_names(kind: str | None = None) -> tuple[str, ...]:
    return tuple(info.name for info in list_metrics(kind))


def metric_info(name: str, kind: str | None = None) -> MetricInfo:
    """The row of ``name`` (``MS-SSIM`` and ``ms_ssim`` alike); an unknown name, or one not of ``kind``, is an
    ``OptionError`` listing the choices."""
    info = METRICS.get(_canonical(name))
    if info is None or (kind is not None and info.kind != kind):
        choices = ", ".join(metric_names(kind))
        what = f"{kind} metric" if kind else "metric"
        raise OptionError(f"unknown {what} {name!r}: choose from {choices}")
    return info


def load_metric(name: str) -> Callable[..., float]:
    """The function of metric ``name``, importing its module now (``sys.modules`` keeps it). A missing extra
    is a ``ModelError`` that names it."""
    info = metric_info(name)
    module, function = info.loader.split(":")
    try:
        return getattr(importlib.import_module(module), function)
    except ImportError as error:
        if not info.extra:
            raise
        title = info.name.replace("_", " ")
        raise ModelError(f"{title} needs the '{info.extra}' extra: pip install 'acutance[{info.extra}]' ({error})") from error


def compute(name: str, *inputs, **options) -> float:
    """Score ``inputs`` with metric ``name``: ``compute("psnr", ref, dist, y_channel=True)``,
    ``compute("niqe", rgb)``, ``compute("vmaf", "ref.mp4", "out.mp4")``. Options the metric does not take are
    an ``OptionError``."""
    info = metric_info(name)
    expected = 1 if info.kind == "no-reference" else 2
    if len(inputs) != expected:
        shape = "one image" if expected == 1 else ("REF and DIST videos" if info.kind == "video" else "REF and DIST images")
        raise OptionError(f"metric {info.name} ({info.kind}) takes {shape}, got {len(inputs)} inputs")
    unknown = sorted(set(options) - set(info.options))
    if unknown:
        raise OptionError(
            f"metric {info.name} takes no option {', '.join(unknown)} (it takes: {', '.join(info.options) or 'none'})"
        )
    return float(load_metric(info.name)(*inputs, **options))


def _vmaf_mean(ref, dist, *, frames: int | None = None, threads: int = 2) -> float:
    """VMAF as one number: :func:`acutance.video.compare.vmaf`'s mean over the frames."""
    from pathlib import Path

    from acutance.video.compare import vmaf

    return vmaf(Path(ref), Path(dist), frames=frames, threads=threads)[0]


def describe() -> str:
    """The table as text, for ``acutance metrics --list``."""
    rows = [("metric", "inputs", "better", "range", "needs", "what")]
    for info in _METRICS:
        low, high = (("-inf" if math.isinf(v) and v < 0 else "inf" if math.isinf(v) else f"{v:g}") for v in info.range)
        rows.append((info.name, info.kind, info.better, f"{low}..{high}", info.extra or "-", info.summary))
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]) - 1)]
    return "\n".join("  ".join([*(c.ljust(w) for c, w in zip(row, widths)), row[-1]]).rstrip() for row in rows)
