"""The FastAPI application: a static page and the JSON API behind it (OpenAPI at /openapi.json).

API: ``GET /api/models``; ``POST /api/jobs`` (multipart: image, optional reference, model, scale,
strength) -> 202 and a job id; ``GET /api/jobs/{id}`` status and metrics; ``GET /api/jobs/{id}/result``
the file (what ``acutance upscale`` writes); ``GET /api/jobs/{id}/preview/{input|result}`` a picture the
browser can show; ``DELETE /api/jobs/{id}``.
"""

from __future__ import annotations

import io
import json
from contextlib import asynccontextmanager
from importlib import resources
from typing import Literal

from fastapi import FastAPI, File, Form, HTTPException, UploadFile
from fastapi.responses import FileResponse, Response
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel

from acutance.errors import AcutanceError
from acutance.web.jobs import MEDIA_TYPES, Job, JobManager, JobSpec, WebSettings, no_reference_metric

STATIC = resources.files("acutance.web") / "static"


class ModelEntry(BaseModel):
    name: str
    task: str
    scales: list[int] | None  # None: any positive factor
    default_scale: float
    summary: str
    input: str


class Limits(BaseModel):
    max_upload_bytes: int
    max_input_pixels: int
    max_output_pixels: int


class ModelsResponse(BaseModel):
    models: list[ModelEntry]
    limits: Limits
    no_reference_metric: str | None  # "niqe" when installed, else None


class Metrics(BaseModel):
    psnr: float | None = None  # dB, RGB, against the reference
    ssim: float | None = None
    niqe: float | None = None  # no-reference; lower is better
    notes: list[str] = []


class JobStatus(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed"]
    stage: str
    progress: float
    message: str
    model: str
    scale: float
    strength: float
    input_size: list[int] | None
    output_size: list[int] | None
    seconds: float | None
    result_name: str | None
    metrics: Metrics | None


def _status(job: Job) -> JobStatus:
    done = job.status == "done"
    return JobStatus(
        id=job.id,
        status=job.status,
        stage=job.stage,
        progress=round(job.progress, 3),
        message=job.message,
        model=job.spec.model,
        scale=job.spec.scale,
        strength=job.spec.strength,
        input_size=list(job.input_size) if job.input_size else None,
        output_size=list(job.output_size) if job.output_size else None,
        seconds=job.seconds,
        result_name=job.result_name if done else None,
        metrics=Metrics(**job.metrics) if done else None,
    )


class BodyLimit:
    """Answer 413 as soon as a request body is larger than ``limit``, without reading the rest."""

    def __init__(self, app, limit: int):
        self.app, self.limit = app, limit

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            return await self.app(scope, receive, send)
        length = dict(scope["headers"]).get(b"content-length")
        if length is not None and length.isdigit() and int(length) > self.limit:
            return await self._too_large(send)
        state = {"received": 0, "over": False, "answered": False}

        async def limited_receive():
            message = await receive()
            if message["type"] == "http.request":
                state["received"] += len(message.get("body", b""))
                if state["received"] > self.limit:  # a streamed (chunked) body: stop reading it
                    state["over"] = True
                    return {"type": "http.disconnect"}
            return message

        async def guarded_send(message):
            if not state["over"]:
                return await send(message)
            if not state["answered"]:  # replace whatever the app says about the cut body
                state["answered"] = True
                await self._too_large(send)

        await self.app(scope, limited_receive, guarded_send)
        if state["over"] and not state["answered"]:
            await self._too_large(send)

    async def _too_large(self, send):
        body = json.dumps({"detail": f"request too large: the limit is {self.limit / 1e6:g} MB"}).encode()
        headers = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode())]
        await send({"type": "http.response.start", "status": 413, "headers": headers})
        await send({"type": "http.response.body", "body": body})


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """The web application; ``settings`` sets the limits and the number of parallel jobs."""
    settings = settings or WebSettings()
    manager = JobManager(settings)

    @asynccontextmanager
    async def lifespan(_app):
        yield
        manager.shutdown()

    app = FastAPI(
        title="acutance",
        summary="Enhance images: upload, follow the job, compare, download.",
        version=_version(),
        lifespan=lifespan,
    )
    app.state.manager = manager
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    @app.get("/api/models", response_model=ModelsResponse)
    def models() -> ModelsResponse:
        """Registered models (name, task, scales), the server's limits and the no-reference metric."""
        from acutance.models.registry import list_models

        entries = [
            ModelEntry(
                name=info.name,
                task=info.task,
                scales=list(info.scales) if info.scales else None,
                default_scale=info.scales[0] if info.scales else info.default_scale,
                summary=info.summary,
                input=info.input,
            )
            for info in list_models()
        ]
        scorer = no_reference_metric()
        limits = Limits(
            max_upload_bytes=settings.max_upload_bytes,
            max_input_pixels=settings.max_input_pixels,
            max_output_pixels=settings.max_output_pixels,
        )
        return ModelsResponse(models=entries, limits=limits, no_reference_metric=scorer[0] if scorer else None)

    @app.post(
        "/api/jobs",
        status_code=202,
        response_model=JobStatus,
        responses={400: {"description": "bad option"}, 413: {"description": "file or image too large"},
                   415: {"description": "not an image"}},  # fmt: skip
    )
    async def create_job(
        image: UploadFile = File(description="the image to enhance (PNG, JPEG, WebP, TIFF, BMP)"),
        reference: UploadFile | None = File(None, description="optional ground truth of the result's size"),
        model: str = Form("bicubic"),
        scale: float | None = Form(None, description="default: the model's own"),
        strength: float = Form(1.0, ge=0.0, le=1.0, description="0: plain bicubic, 1: the model's result"),
    ) -> JobStatus:
        """Upload an image and start a job; poll ``/api/jobs/{id}`` until it is done or failed."""
        from acutance.models.registry import model_info
        from acutance.pipeline import resolve_scale
        from acutance.resize import output_size

        try:
            info = model_info(model)
            resolved = resolve_scale(_Described(info), scale)
        except AcutanceError as error:
            raise HTTPException(400, str(error)) from None
        data = await _read_upload(image, settings)
        width, height = _check_header(data, image.filename or "upload", settings)
        out_h, out_w = output_size(height, width, resolved)
        if out_h * out_w > settings.max_output_pixels:
            raise HTTPException(413, f"the result would have {out_h * out_w / 1e6:.1f} MP at x{resolved:g}; "
                                     f"the limit is {settings.max_output_pixels / 1e6:g} MP")  # fmt: skip
        reference_data = None
        if reference is not None and reference.filename:
            reference_data = await _read_upload(reference, settings)
            _check_header(reference_data, reference.filename, settings, pixels=settings.max_output_pixels)
        spec = JobSpec(
            data=data,
            filename=image.filename or "upload.png",
            model=model,
            scale=resolved,
            strength=strength,
            reference=reference_data,
            reference_name=(reference.filename if reference is not None else None) or "reference",
        )
        return _status(manager.submit(spec))

    def _job(job_id: str) -> Job:
        job = manager.get(job_id)
        if job is None:
            kept = f"finished jobs are kept for {settings.ttl_seconds / 60:g} min"
            raise HTTPException(404, f"no job {job_id!r} ({kept})")
        return job

    @app.get("/api/jobs/{job_id}", response_model=JobStatus, responses={404: {"description": "no such job"}})
    def job_status(job_id: str) -> JobStatus:
        """Status, progress (0 to 1), and when done the sizes, time and metrics."""
        return _status(_job(job_id))

    @app.get(
        "/api/jobs/{job_id}/result",
        response_class=Response,
        responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}, 404: {}, 409: {"description": "not done"}},
    )
    def job_result(job_id: str) -> Response:
        """The result file, in the input's format and bit depth: the bytes ``acutance upscale`` writes."""
        job = _ready(_job(job_id))
        disposition = f'attachment; filename="{_ascii_name(job.result_name)}"'
        return Response(job.result, media_type=MEDIA_TYPES[job.result_format],
                        headers={"Content-Disposition": disposition})  # fmt: skip

    @app.get("/api/jobs/{job_id}/preview/{which}", response_class=Response, responses={404: {}, 409: {}})
    def job_preview(job_id: str, which: Literal["input", "result"]) -> Response:
        """The input or the result as a picture a browser shows (TIFF becomes 8-bit PNG)."""
        job = _ready(_job(job_id))
        data = job.input_preview if which == "input" else job.result_preview
        return Response(data, media_type=_sniff(data), headers={"Cache-Control": "private, max-age=3600"})

    @app.delete("/api/jobs/{job_id}", status_code=204, responses={404: {}})
    def delete_job(job_id: str) -> Response:
        """Forget a job and its files now."""
        if not manager.delete(job_id):
            raise HTTPException(404, f"no job {job_id!r}")
        return Response(status_code=204)

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


class _Described:
    """``resolve_scale`` only reads ``.info``: check a scale without loading the model."""

    def __init__(self, info):
        self.info = info


async def _read_upload(upload: UploadFile, settings: WebSettings) -> bytes:
    data = await upload.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, f"{upload.filename}: larger than the limit of {settings.max_upload_bytes / 1e6:g} MB")
    if not data:
        raise HTTPException(400, f"{upload.filename}: the file is empty")
    return data


def _check_header(data: bytes, name: str, settings: WebSettings, pixels: int | None = None) -> tuple[int, int]:
    """(width, height) from the header alone; 415 if it is not an image we read, 413 if too many pixels."""
    from PIL import Image as PILImage

    from acutance.io.image import FORMATS

    limit = pixels or settings.max_input_pixels
    try:
        with PILImage.open(io.BytesIO(data), formats=FORMATS) as pil:
            width, height = pil.size
            try:
                orientation = pil.getexif().get(0x0112, 1)
            except Exception:  # a damaged file past its header: the job reports why it cannot be read
                orientation = 1
    except PILImage.DecompressionBombError:
        raise HTTPException(413, f"{name}: too many pixels (the limit is {limit / 1e6:g} MP)") from None
    except Exception:
        raise HTTPException(415, f"{name}: not a PNG, JPEG, WebP, TIFF or BMP image") from None
    if width * height > limit:
        raise HTTPException(413, f"{name}: {width}x{height} is {width * height / 1e6:.1f} MP; "
                                 f"the limit is {limit / 1e6:g} MP")  # fmt: skip
    return (height, width) if orientation in (5, 6, 7, 8) else (width, height)


def _ready(job: Job) -> Job:
    if job.status == "failed":
        raise HTTPException(409, f"job failed: {job.message}")
    if job.status != "done":
        raise HTTPException(409, f"job is {job.status}; poll /api/jobs/{job.id} until it is done")
    return job


def _sniff(data: bytes) -> str:
    if data.startswith(b"\x89PNG"):
        return "image/png"
    if data.startswith(b"\xff\xd8"):
        return "image/jpeg"
    if data[:4] == b"RIFF" and data[8:12] == b"WEBP":
        return "image/webp"
    if data.startswith(b"BM"):
        return "image/bmp"
    return "application/octet-stream"


def _ascii_name(name: str) -> str:
    return "".join(c if c.isascii() and c.isprintable() and c not in '"\\' else "_" for c in name)


def _version() -> str:
    from acutance import __version__

    return __version__
