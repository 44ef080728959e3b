"""Jobs of the web page: each upload runs on a worker thread, never on the request thread.

A job id is 24 random URL-safe characters from ``secrets``: knowing one job's id says nothing about
another's. Finished jobs are kept in memory for ``ttl_seconds`` (or until ``max_jobs`` newer ones push
them out) so their result can be downloaded, then forgotten.
"""

from __future__ import annotations

import dataclasses
import importlib
import secrets
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import PurePath
from typing import Callable

import numpy as np

from acutance.errors import AcutanceError
from acutance.models.descriptor import Enhancer

BROWSER_FORMATS = frozenset({"PNG", "JPEG", "WEBP", "BMP"})  # shown as they are; TIFF gets a PNG preview
MEDIA_TYPES = {"PNG": "image/png", "JPEG": "image/jpeg", "WEBP": "image/webp", "TIFF": "image/tiff", "BMP": "image/bmp"}
EXTENSIONS = {"PNG": ".png", "JPEG": ".jpg", "WEBP": ".webp", "TIFF": ".tif", "BMP": ".bmp"}


@dataclass(frozen=True)
class WebSettings:
    """Limits and resources of the server."""

    max_upload_bytes: int = 50_000_000  # per file (image and reference each)
    max_input_pixels: int = 16_000_000
    max_output_pixels: int = 64_000_000
    jobs: int = 1  # images processed at once; more queue
    ttl_seconds: float = 3600.0
    max_jobs: int = 100

    @property
    def max_request_bytes(self) -> int:
        return 2 * self.max_upload_bytes + 1_000_000  # image + reference + form overhead


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
    status: str = "queued"  # queued | running | done | failed
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

    @property
    def result_name(self) -> str:
        stem = PurePath(self.spec.filename).stem or "image"
        return f"{stem}_{self.spec.model}_x{self.spec.scale:g}{EXTENSIONS[self.result_format]}"


def no_reference_metric() -> tuple[str, Callable[[np.ndarray], float]] | None:
    """The no-reference quality score, if this installation has one (NIQE: ``acutance.metrics.niqe``)."""
    try:
        module = importlib.import_module("acutance.metrics.niqe")
    except ImportError:
        return None
    function = getattr(module, "niqe", None)
    return ("niqe", function) if callable(function) else None


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

    def submit(self, spec: JobSpec) -> Job:
        job = Job(spec)
        with self._lock:
            self._prune()
            self._jobs[job.id] = job
        self._pool.submit(self._run, job)
        return job

    def get(self, job_id: str) -> Job | None:
        with self._lock:
            self._prune()
            return self._jobs.get(job_id)

    def delete(self, job_id: str) -> bool:
        with self._lock:
            return self._jobs.pop(job_id, None) is not None

    def shutdown(self) -> None:
        self._pool.shutdown(wait=False, cancel_futures=True)

    def _prune(self) -> None:
        now = time.time()
        expired = [j.id for j in self._jobs.values() if j.finished and now - j.finished > self.settings.ttl_seconds]
        for job_id in expired:
            del self._jobs[job_id]
        finished = sorted((j for j in self._jobs.values() if j.finished), key=lambda j: j.finished)
        for job in finished[: max(0, len(self._jobs) - self.settings.max_jobs)]:
            del self._jobs[job.id]

    def _model(self, name: str) -> Enhancer:
        with self._model_lock:
            if name not in self._models:
                from acutance.models.registry import load_model

                self._models[name] = load_model(name)
            return self._models[name]

    def _run(self, job: Job) -> None:
        start = time.perf_counter()
        job.status, job.stage, job.progress = "running", "reading", 0.02
        try:
            self._process(job)
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
        job.finished = time.time()

    def _process(self, job: Job) -> None:
        from acutance.io import decode_image, encode_image
        from acutance.pipeline import enhance_image
        from acutance.resize import output_size

        spec = job.spec
        image = decode_image(spec.data, spec.filename)
        height, width = image.rgb.shape[:2]
        job.input_size = (width, height)
        out_h, out_w = output_size(height, width, spec.scale)
        if out_h * out_w > self.settings.max_output_pixels:
            raise AcutanceError(f"the result would have {out_h * out_w / 1e6:.1f} MP; this server's limit is "
                                f"{self.settings.max_output_pixels / 1e6:g} MP")  # fmt: skip
        shown = image.meta.format in BROWSER_FORMATS  # else TIFF: the browser gets an 8-bit PNG to show
        job.input_preview = spec.data if shown else encode_image(image, "PNG", bit_depth=8)
        job.stage, job.progress = "loading model", 0.05
        model = self._model(spec.model)
        job.stage, job.progress = "enhancing", 0.1

        def on_tile(done: int, total: int) -> None:
            job.progress = 0.1 + 0.8 * done / max(total, 1)

        result = enhance_image(image, model, spec.scale, on_tile=on_tile)
        result = result.replace(apply_strength(image.rgb, result.rgb, spec.strength), result.alpha)
        job.stage, job.progress = "encoding", 0.9
        job.result_format = image.meta.format
        job.result = encode_image(result, image.meta.format)  # what `acutance upscale` writes
        job.output_size = (result.rgb.shape[1], result.rgb.shape[0])
        written = decode_image(job.result, job.result_name)  # measure what the user downloads
        job.result_preview = job.result if shown else encode_image(written, "PNG", bit_depth=8)
        job.stage, job.progress = "measuring", 0.95
        job.metrics = self._metrics(spec, written.rgb)

    def _metrics(self, spec: JobSpec, rgb: np.ndarray) -> dict:
        """PSNR/SSIM against the reference if one was given; the no-reference score if available."""
        from acutance.io import decode_image
        from acutance.metrics import psnr, ssim

        metrics: dict = {"psnr": None, "ssim": None, "niqe": None, "notes": []}
        if spec.reference is not None:
            reference = decode_image(spec.reference, spec.reference_name).rgb
            if reference.shape != rgb.shape:
                metrics["notes"].append(f"the reference is {reference.shape[1]}x{reference.shape[0]}, the result "
                                        f"{rgb.shape[1]}x{rgb.shape[0]}: no PSNR/SSIM")  # fmt: skip
            else:
                value = psnr(reference, rgb)
                metrics["psnr"] = round(value, 3) if np.isfinite(value) else None
                if not np.isfinite(value):
                    metrics["notes"].append("the result equals the reference: PSNR is infinite")
                metrics["ssim"] = round(ssim(reference, rgb), 4)
        scorer = no_reference_metric()
        if scorer is None:
            metrics["notes"].append("no-reference score not available")
        else:
            name, function = scorer
            try:
                metrics[name] = round(float(function(rgb)), 3)
            except Exception as error:  # an optional score must not fail the job
                metrics["notes"].append(f"{name} failed: {error}")
        return metrics
