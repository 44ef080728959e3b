"""Jobs of the web page: each upload runs on a worker thread, never on the request thread.

A job id is 24 random URL-safe characters from ``secrets``: knowing one job's id says nothing about
another's. Finished jobs are kept in memory for ``ttl_seconds`` (or until ``max_jobs`` newer ones, or
``max_kept_bytes`` of newer results, push them out) so their result can be downloaded, then forgotten.

Everything the server holds is bounded: at most ``jobs`` images are processed at once, each under the
``acutance.limits`` budget (checked on the request, before the job is queued); at most ``queue`` jobs
(and ``max_queued_bytes`` of uploads) wait for a worker, and a request beyond that is refused (503); a
job is cancelled between tiles, so a deleted job stops using the CPU at once.
"""

from __future__ import annotations

import dataclasses
import math
import secrets
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Callable

import numpy as np

from acutance import limits
from acutance.errors import AcutanceError
from acutance.io.image import FORMAT_SUFFIXES
from acutance.models.descriptor import Enhancer, ModelInfo

BROWSER_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "BMP"})  # shown as they are; TIFF gets a PNG preview
MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "TIFF": "image/tiff", "BMP": "image/bmp"}
EXTENSIONS = FORMAT_SUFFIXES  # the result's suffix by format: acutance.io's one table
LOCAL_HOSTS = ("127.0.0.1", "localhost", "::1")

# Bytes per pixel of a job's stages beyond the model's run, from benchmarks/web_load.py's stage probe (peak
# RSS over each stage, 1500x1000 photo, x2 results; results/web_load.md), rounded up with room for alpha:
# encoding holds the float32 result (12-16) beside its stacked channels and acutance.contract.to_uint's
# float64 rounding (39 measured on RGB); PSNR/SSIM (112 beside both images) and NIQE (65) use float64 maps.
ENCODE_BYTES_PER_PIXEL = 72
INPUT_BYTES_PER_PIXEL = 24  # a decoded image (19 measured) with alpha
SSIM_BYTES_PER_PIXEL = 112
NIQE_BYTES_PER_PIXEL = 66


@dataclass(frozen=True)
class WebSettings:
    """Limits and resources of the server."""

    max_upload_bytes: int = 50_000_000  # per file (image and reference each)
    limits: limits.Limits = limits.DEFAULT  # pixels and working memory of one job (acutance.limits)
    jobs: int = 1  # images processed at once; more queue
    queue: int = 8  # jobs waiting for a worker, besides the running ones; more get 503
    max_queued_bytes: int = 128_000_000  # uploads held by waiting jobs; more get 503
    max_kept_bytes: int = 128_000_000  # results of finished jobs kept for download; older ones are dropped
    tile: int = 256  # input pixels per tile: a job is cancelled between tiles
    host: str = "127.0.0.1"  # the bound address: the Host header must name it (or a loopback name)
    allowed_hosts: tuple[str, ...] = ()  # more names the Host header may carry (behind a reverse proxy)
    ttl_seconds: float = 3600.0
    max_jobs: int = 100

    def __post_init__(self) -> None:
        for name in ("jobs", "tile"):
            if getattr(self, name) < 1:
                raise limits.LimitError(f"{name} must be at least 1, got {getattr(self, name)}")
        for name in ("queue", "max_upload_bytes", "max_queued_bytes", "max_kept_bytes"):
            if getattr(self, name) < 0:
                raise limits.LimitError(f"{name} must be >= 0, got {getattr(self, name)}")

    @property
    def max_request_bytes(self) -> int:
        return 2 * self.max_upload_bytes + 1_000_000  # image + reference + form overhead


class QueueFull(AcutanceError):
    """No room for another job now; ``retry_after`` is a guess in seconds."""

    def __init__(self, message: str, retry_after: int):
        super().__init__(message)
        self.retry_after = retry_after


class JobCancelled(Exception):
    """Raised from the tile callback of a deleted job: the work stops between two tiles."""


@dataclass(frozen=True)
class JobSpec:
    """What the user asked for; ``scale`` is already resolved and checked against the model."""

    data: bytes
    filename: str
    model: str
    scale: float
    strength: float = 1.0
    reference: bytes | None = None
    reference_name: str = "reference"


@dataclass
class Job:
    spec: JobSpec
    id: str = field(default_factory=lambda: secrets.token_urlsafe(18))
    status: str = "queued"  # queued | running | done | failed | cancelled
    stage: str = "queued"
    progress: float = 0.0
    message: str = ""
    created: float = field(default_factory=time.time)
    finished: float | None = None
    seconds: float | None = None
    input_size: tuple[int, int] | None = None  # (width, height)
    output_size: tuple[int, int] | None = None
    result: bytes | None = None
    result_format: str = "PNG"
    input_preview: bytes | None = None
    result_preview: bytes | None = None
    metrics: dict = field(default_factory=dict)
    cancelled: threading.Event = field(default_factory=threading.Event, repr=False)
    future: Future | None = field(default=None, repr=False)
    queued_bytes: int = 0  # the upload's share of max_queued_bytes while the job waits

    @property
    def result_name(self) -> str:
        stem = PurePath(self.spec.filename).stem or "image"
        return f"{stem}_{self.spec.model}_x{self.spec.scale:g}{EXTENSIONS[self.result_format]}"

    @property
    def kept_bytes(self) -> int:
        """Memory the finished job holds (the previews may be the same objects as the files)."""
        held = {id(b): len(b) for b in (self.result, self.input_preview, self.result_preview) if b}
        return sum(held.values())


NO_REFERENCE_METRIC = "niqe"  # the page's no-reference score (a name in acutance.metrics.registry)


def no_reference_metric() -> tuple[str, Callable[[np.ndarray], float]] | None:
    """The no-reference quality score, through the metric registry, if this installation has it."""
    from acutance.errors import AcutanceError
    from acutance.metrics.registry import load_metric

    try:
        return NO_REFERENCE_METRIC, load_metric(NO_REFERENCE_METRIC)
    except (ImportError, AcutanceError):
        return None


TILE_SECONDS = 0.25  # a tile's measured time (acutance list's figures) stays under this: cancels are prompt
MIN_TILE = 64


def tile_for(info: ModelInfo, scale: float, tile: int) -> int:
    """The tile a web job runs with: small enough to cancel between tiles; 0 where tiling cannot apply.

    At most ``tile`` and the model's own advice; smaller for slow models, so that one tile takes about
    ``TILE_SECONDS`` by the model's measured speed (seconds per output megapixel).
    """
    if not float(scale).is_integer():
        return 0  # run_tiled needs whole output pixels per input pixel
    tile = min(tile, info.tile) if info.tile else tile
    speed = info.measured().get("seconds_per_output_mp")
    if speed:
        quick = int(math.sqrt(TILE_SECONDS / (speed * scale * scale) * 1e6))
        tile = min(tile, max(quick, MIN_TILE, 4 * info.context))
    from acutance.pipeline.budget import min_tile

    return max(tile, min_tile(info))  # the pipeline's own floor: a smaller tile is refused there


def job_memory(model_memory: int, out_pixels: int, upload_bytes: int, reference_pixels: int = 0) -> int:
    """Estimated peak working memory (bytes) of one job, for ``acutance.limits.check_memory``.

    model_memory: ``acutance.pipeline.plan_enhance``'s estimate of the model's run (input, tiles, output).
    The peak is the largest of the stages (the uploads are held throughout): the model's run, encoding the
    result, and with a reference, PSNR/SSIM. NIQE is optional and only runs when it fits (``niqe_fits``).
    """
    encode = ENCODE_BYTES_PER_PIXEL * out_pixels
    measure = (16 + SSIM_BYTES_PER_PIXEL) * out_pixels + INPUT_BYTES_PER_PIXEL * reference_pixels
    return upload_bytes + max(model_memory, encode, measure if reference_pixels else 0)


def niqe_fits(out_px: int, memory: limits.Limits) -> bool:
    """Whether NIQE of an ``out_px`` result fits this job's memory budget (the result is held beside it)."""
    return not memory.max_memory or (NIQE_BYTES_PER_PIXEL + 16) * out_px <= memory.max_memory


def apply_strength(source: np.ndarray, result: np.ndarray, strength: float) -> np.ndarray:
    """Blend from plain bicubic (0) to the model's result (1); 1 returns ``result`` untouched."""
    if strength == 1.0:
        return result
    from acutance.resize import imresize

    base = source if source.shape == result.shape else imresize(source, size=result.shape[:2], method="bicubic")
    return np.clip(base + np.float32(strength) * (result - base), 0.0, 1.0).astype(np.float32)


class JobManager:
    """Runs jobs on a small thread pool; keeps loaded models and finished jobs for a while."""

    def __init__(self, settings: WebSettings):
        self.settings = settings
        self._pool = ThreadPoolExecutor(max_workers=settings.jobs, thread_name_prefix="acutance-job")
        self._jobs: dict[str, Job] = {}
        self._lock = threading.Lock()
        self._models: dict[str, Enhancer] = {}
        self._model_lock = threading.Lock()
        self._waiting = 0  # reserved or queued, not yet running
        self._running = 0
        self._waiting_bytes = 0
        self._recent_seconds: list[float] = []  # durations of the last finished jobs, for Retry-After

    # --------------------------------------------------------------------------------- the queue

    def reserve(self, upload_bytes: int) -> None:
        """Take a place in the queue for an upload of ``upload_bytes``, or raise ``QueueFull``.

        Called before the upload is read into memory; ``submit`` uses the place, ``release`` gives it back.
        A lone upload is always admitted when nothing waits (its size is bounded by ``max_upload_bytes``).
        """
        with self._lock:
            free_workers = self.settings.jobs - self._running  # a job for a free worker does not wait
            full = self._waiting >= self.settings.queue + free_workers
            if not full and self._waiting and self._waiting_bytes + upload_bytes > self.settings.max_queued_bytes:
                full = True
            if full:
                raise QueueFull(
                    f"the server is busy: {self._waiting} job(s) are waiting (the queue holds {self.settings.queue} "
                    f"and {self.settings.max_queued_bytes / 1e6:g} MB); try again later",
                    self._retry_after(),
                )
            self._waiting += 1
            self._waiting_bytes += upload_bytes

    def release(self, upload_bytes: int) -> None:
        with self._lock:
            self._release(upload_bytes)

    def _release(self, upload_bytes: int) -> None:
        self._waiting -= 1
        self._waiting_bytes -= upload_bytes

    def _retry_after(self) -> int:
        typical = sorted(self._recent_seconds)[len(self._recent_seconds) // 2] if self._recent_seconds else 5.0
        return int(min(max(math.ceil(typical), 1), 60))

    def submit(self, spec: JobSpec, reserved_bytes: int) -> Job:
        """Queue a job in a place taken with ``reserve(reserved_bytes)``."""
        job = Job(spec, queued_bytes=reserved_bytes)
        with self._lock:
            self._prune()
            self._jobs[job.id] = job
            job.future = self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            self._prune()
            return self._jobs.get(job_id)

    def delete(self, job_id: str) -> bool:
        """Forget a job; a queued one never runs, a running one stops at its next tile."""
        with self._lock:
            job = self._jobs.pop(job_id, None)
            if job is None:
                return False
            job.cancelled.set()
            if job.future is not None and job.future.cancel():  # still waiting: its place is free now
                self._release(job.queued_bytes)
            return True

    def shutdown(self) -> None:
        with self._lock:
            for job in self._jobs.values():
                job.cancelled.set()
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _prune(self) -> None:
        now = time.time()
        expired = [j.id for j in self._jobs.values() if j.finished and now - j.finished > self.settings.ttl_seconds]
        for job_id in expired:
            del self._jobs[job_id]
        finished = sorted((j for j in self._jobs.values() if j.finished), key=lambda j: j.finished)
        for job in finished[: max(0, len(self._jobs) - self.settings.max_jobs)]:
            del self._jobs[job.id]
        # Results held for download are bounded too: drop the oldest, always keeping the newest one.
        finished = [j for j in finished if j.id in self._jobs]
        kept = sum(j.kept_bytes for j in finished)
        for job in finished[:-1]:
            if kept <= self.settings.max_kept_bytes:
                break
            kept -= job.kept_bytes
            del self._jobs[job.id]

    def _model(self, name: str) -> Enhancer:
        with self._model_lock:
            if name not in self._models:
                from acutance.models.registry import load_model

                self._models[name] = load_model(name)
            return self._models[name]

    # ---------------------------------------------------------------------------------- the work

    def _run(self, job: Job) -> None:
        with self._lock:
            self._release(job.queued_bytes)  # running now: no longer counts against the queue
            self._running += 1
        try:
            if not job.cancelled.is_set():
                self._run_job(job)
        finally:
            with self._lock:
                self._running -= 1

    def _run_job(self, job: Job) -> None:
        start = time.perf_counter()
        job.status, job.stage, job.progress = "running", "reading", 0.02
        try:
            with limits.using(self.settings.limits):  # worker threads do not inherit the caller's context
                self._process(job)
        except JobCancelled:
            job.status, job.stage, job.message = "cancelled", "cancelled", "cancelled"
        except AcutanceError as error:
            job.status, job.message = "failed", str(error)
        except MemoryError:
            job.status, job.message = "failed", "out of memory: try a smaller image or scale"
        except Exception as error:  # a bug: say so on the page instead of a job stuck 'running'
            job.status, job.message = "failed", f"internal error: {type(error).__name__}: {error}"
        else:
            job.status, job.stage, job.progress = "done", "done", 1.0
        job.seconds = round(time.perf_counter() - start, 3)
        job.spec = dataclasses.replace(job.spec, data=b"", reference=None)  # the previews keep what is shown
        if job.status != "done":
            job.input_preview = job.result = job.result_preview = None
        with self._lock:
            job.finished = time.time()
            if job.status == "done":
                self._recent_seconds = (self._recent_seconds + [job.seconds])[-20:]
            self._prune()

    def _process(self, job: Job) -> None:
        from acutance.io import decode_image, encode_image
        from acutance.pipeline import enhance_image

        def checkpoint() -> None:
            if job.cancelled.is_set():
                raise JobCancelled

        spec = job.spec
        image = decode_image(spec.data, spec.filename)
        checkpoint()
        height, width = image.rgb.shape[:2]
        job.input_size = (width, height)
        shown = image.meta.format in BROWSER_FORMATS  # else TIFF: the browser gets an 8-bit PNG to show
        job.input_preview = spec.data if shown else encode_image(image, "PNG", bit_depth=8)
        job.stage, job.progress = "loading model", 0.05
        model = self._model(spec.model)
        checkpoint()
        job.stage, job.progress = "enhancing", 0.1

        def on_tile(done: int, total: int) -> None:
            checkpoint()  # between tiles: a deleted job stops here
            job.progress = 0.1 + 0.8 * done / max(total, 1)

        from acutance.rescale.tag import crop_to, match

        notice = crop = None
        if model.info.task == "upscale":  # an IRN LR and its upscaler belong together (else a note on the page)
            notice, crop = match(spec.filename, image, spec.model, spec.data)
        tile = tile_for(model.info, spec.scale, self.settings.tile)
        result = crop_to(enhance_image(image, model, spec.scale, tile=tile, on_tile=on_tile), crop)
        checkpoint()
        if spec.strength != 1.0:
            result = result.replace(apply_strength(image.rgb, result.rgb, spec.strength), result.alpha)
        del image  # the input's pixels are not needed past here: keep the peak down
        job.stage, job.progress = "encoding", 0.9
        job.result_format = result.meta.format
        job.result = encode_image(result, result.meta.format)  # what `acutance upscale` writes
        job.output_size = (result.rgb.shape[1], result.rgb.shape[0])
        del result
        checkpoint()
        written = decode_image(job.result, job.result_name)  # measure what the user downloads
        job.result_preview = job.result if shown else encode_image(written, "PNG", bit_depth=8)
        job.stage, job.progress = "measuring", 0.95
        job.metrics = self._metrics(spec, written.rgb, checkpoint)
        if notice is not None:
            job.metrics["notes"].insert(0, notice)

    def _metrics(self, spec: JobSpec, rgb: np.ndarray, checkpoint: Callable[[], None]) -> dict:
        """PSNR/SSIM against the reference if one was given; the no-reference score if available."""
        from acutance.io import decode_image
        from acutance.metrics.registry import compute

        metrics: dict = {"psnr": None, "ssim": None, "niqe": None, "notes": []}
        if spec.reference is not None:
            reference = decode_image(spec.reference, spec.reference_name).rgb
            if reference.shape != rgb.shape:
                metrics["notes"].append(f"the reference is {reference.shape[1]}x{reference.shape[0]}, the result "
                                        f"{rgb.shape[1]}x{rgb.shape[0]}: no PSNR/SSIM")  # fmt: skip
            else:
                value = compute("psnr", reference, rgb)
                metrics["psnr"] = round(value, 3) if np.isfinite(value) else None
                if not np.isfinite(value):
                    metrics["notes"].append("the result equals the reference: PSNR is infinite")
                metrics["ssim"] = round(compute("ssim", reference, rgb), 4)
            del reference
            checkpoint()
        scorer = no_reference_metric()
        if scorer is None:
            metrics["notes"].append("no-reference score not available")
        elif not niqe_fits(rgb.shape[0] * rgb.shape[1], limits.current()):
            metrics["notes"].append(f"{scorer[0]} skipped: the result is too large for the memory limit "
                                    f"({limits.FLAGS['max_memory']})")  # fmt: skip
        else:
            name, function = scorer
            try:
                metrics[name] = round(float(function(rgb)), 3)
            except Exception as error:  # an optional score must not fail the job
                metrics["notes"].append(f"{name} failed: {error}")
        return metrics
