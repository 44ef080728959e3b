"""The FastAPI application: a static page and the JSON API behind it (OpenAPI at /openapi.json).

API: ``GET /api/models``; ``POST /api/jobs`` (multipart: image, optional reference, model, scale,
strength) -> 202 and a job id; ``GET /api/jobs/{id}`` status and metrics; ``GET /api/jobs/{id}/result``
the file (what ``acutance upscale`` writes); ``GET /api/jobs/{id}/preview/{input|result}`` a picture the
browser can show; ``DELETE /api/jobs/{id}`` forgets the job and cancels its work. ``POST /api/inpaint``
(multipart: image, mask, method, dilate) answers the image with the masked pixels filled.

Every request is checked before any work: its ``Host`` must name this server (DNS rebinding), a
state-changing request from a browser must come from this server's own page (its ``Origin``: CSRF), the
body is bounded (413), every field is validated (400), the job must fit ``acutance.limits`` (413) and the
queue (503). Every response carries security headers (no sniffing, no framing, a content security policy).
"""

from __future__ import annotations

import io
import ipaddress
import json
import math
import threading
import warnings
from contextlib import asynccontextmanager
from importlib import resources
from typing import Literal
from urllib.parse import urlsplit

from fastapi import FastAPI, File, Form, HTTPException, Request, UploadFile
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, JSONResponse, Response
from fastapi.staticfiles import StaticFiles
from starlette.concurrency import run_in_threadpool
from pydantic import BaseModel

from acutance import limits
from acutance.errors import AcutanceError
from acutance.web.jobs import (
    EXTENSIONS,
    LOCAL_HOSTS,
    MEDIA_TYPES,
    Job,
    JobManager,
    JobSpec,
    QueueFull,
    WebSettings,
    job_memory,
    no_reference_metric,
    tile_for,
)

STATIC = resources.files("acutance.web") / "static"

SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# The page loads only its own script, style and pictures; nothing may frame it.
PAGE_POLICY = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data: blob:; connect-src 'self'; "
    "form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)
# FastAPI's /docs page is Swagger UI from its CDN with an inline start-up script (no user data on it).
DOCS_POLICY = (
    "default-src 'none'; script-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'self' 'unsafe-inline' https://cdn.jsdelivr.net; img-src 'self' data: https://fastapi.tiangolo.com; "
    "connect-src 'self'; base-uri 'none'; frame-ancestors 'none'"
)
SECURITY_HEADERS = [
    (b"x-content-type-options", b"nosniff"),
    (b"x-frame-options", b"DENY"),
    (b"referrer-policy", b"no-referrer"),
    (b"cross-origin-resource-policy", b"same-origin"),  # other sites cannot embed the pictures either
]


class ModelEntry(BaseModel):
    name: str
    task: str
    scales: list[int] | None  # None: any positive factor
    default_scale: float
    summary: str
    input: str


class ServerLimits(BaseModel):
    max_upload_bytes: int
    max_input_pixels: int  # 0: no limit
    max_output_pixels: int
    max_memory: int  # bytes of estimated working memory per job
    min_scale: float  # the range of an any-scale model's factor
    max_scale: float
    jobs: int
    queue: int


class ModelsResponse(BaseModel):
    models: list[ModelEntry]
    limits: ServerLimits
    no_reference_metric: str | None  # "niqe" when installed, else None


class Metrics(BaseModel):
    psnr: float | None = None  # dB, RGB, against the reference
    ssim: float | None = None
    niqe: float | None = None  # no-reference; lower is better
    notes: list[str] = []


class JobStatus(BaseModel):
    id: str
    status: Literal["queued", "running", "done", "failed", "cancelled"]
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


async def _send_json(send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()) -> None:
    body = json.dumps({"detail": detail}).encode()
    head = [(b"content-type", b"application/json"), (b"content-length", str(len(body)).encode()), *headers]
    await send({"type": "http.response.start", "status": status, "headers": head})
    await send({"type": "http.response.body", "body": body})


class Guard:
    """Refuse requests for another host (DNS rebinding) or from another site's page (CSRF); add security headers.

    ``Host`` must be the bound address, a loopback name, or one of ``allowed_hosts`` (on a wildcard address,
    any IP literal). A state-changing request that carries an ``Origin`` (every browser sends one) must come
    from this very origin; clients without one (curl, scripts) are not browsers a page can drive.
    """

    def __init__(self, app, settings: WebSettings):
        self.app = app
        self.hosts = {_normal_host(h) for h in (*LOCAL_HOSTS, settings.host, *settings.allowed_hosts)}
        self.any_address = settings.host in ("0.0.0.0", "::", "")

    async def __call__(self, scope, receive, send):
        if scope["type"] != "http":
            return await self.app(scope, receive, send)
        policy = (DOCS_POLICY if scope["path"] in ("/docs", "/docs/oauth2-redirect") else PAGE_POLICY).encode()
        extra = [*SECURITY_HEADERS, (b"content-security-policy", policy)]

        async def send_with_headers(message):
            if message["type"] == "http.response.start":
                message = {**message, "headers": [*message.get("headers", []), *extra]}
            await send(message)

        headers = {key.decode("latin-1").lower(): value.decode("latin-1") for key, value in scope["headers"]}
        host = headers.get("host", "")
        if not self._host_allowed(host):
            detail = f"refused: Host {host!r} is not this server (acutance serve --allow-host NAME serves a name)"
            return await _send_json(send_with_headers, 403, detail)
        origin = headers.get("origin")
        if scope["method"] not in SAFE_METHODS and origin is not None and not _same_origin(origin, host):
            return await _send_json(send_with_headers, 403, f"refused: a {scope['method']} from another site "
                                    f"({origin}); use the page served at http://{host}/")  # fmt: skip
        await self.app(scope, receive, send_with_headers)

    def _host_allowed(self, host: str) -> bool:
        name = _normal_host(host)
        if not name:
            return False
        if name in self.hosts:
            return True
        if self.any_address:  # bound to every interface: an address literal cannot be a rebound name
            try:
                ipaddress.ip_address(name)
                return True
            except ValueError:
                return False
        return False


def _normal_host(host: str) -> str:
    """'127.0.0.1:8000' -> '127.0.0.1', '[::1]:80' -> '::1', 'Example.COM.' -> 'example.com'."""
    host = host.strip().lower()
    if host.startswith("["):
        return host[1:].split("]", 1)[0]
    if host.count(":") == 1:
        host = host.split(":", 1)[0]
    return host.rstrip(".")


def _same_origin(origin: str, host: str) -> bool:
    parts = urlsplit(origin.strip().lower())
    return parts.scheme in ("http", "https") and bool(parts.netloc) and parts.netloc == host.strip().lower()


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
        await _send_json(send, 413, f"request too large: the limit is {self.limit / 1e6:g} MB")


def create_app(settings: WebSettings | None = None) -> FastAPI:
    """The web application; ``settings`` sets the limits, the queue and the number of parallel jobs."""
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
        redoc_url=None,  # /docs is the one interactive page (its content security policy is written for it)
    )
    app.state.manager = manager
    app.add_middleware(BodyLimit, limit=settings.max_request_bytes)
    app.add_middleware(Guard, settings=settings)  # added last: runs first, and its headers go on every answer

    @app.exception_handler(RequestValidationError)
    async def bad_field(_request: Request, error: RequestValidationError) -> JSONResponse:
        # One line, as every other error here; FastAPI's default is a 422 with a list.
        problems = [f"{_field_name(e.get('loc', ()))}: {e.get('msg', 'invalid')}" for e in error.errors()]
        return JSONResponse({"detail": "; ".join(problems) or "invalid request"}, status_code=400)

    @app.get("/", include_in_schema=False)
    def index() -> FileResponse:
        return FileResponse(str(STATIC / "index.html"), media_type="text/html")

    @app.get("/api/models", response_model=ModelsResponse)
    def models() -> ModelsResponse:
        """Registered models (name, task, scales), the server's limits and the no-reference metric."""
        from acutance.models.descriptor import IMAGE_TASKS
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
            if info.task in IMAGE_TASKS  # face and quality models do not map an image to an image
        ]
        scorer = no_reference_metric()
        budget = settings.limits
        server = ServerLimits(
            max_upload_bytes=settings.max_upload_bytes,
            max_input_pixels=budget.max_input_pixels,
            max_output_pixels=budget.max_output_pixels,
            max_memory=budget.max_memory,
            min_scale=limits.MIN_SCALE,
            max_scale=limits.MAX_SCALE,
            jobs=settings.jobs,
            queue=settings.queue,
        )
        return ModelsResponse(models=entries, limits=server, no_reference_metric=scorer[0] if scorer else None)

    @app.post(
        "/api/jobs",
        status_code=202,
        response_model=JobStatus,
        responses={400: {"description": "bad field"}, 403: {"description": "another site or host"},
                   413: {"description": "file, image, result or working memory over a limit"},
                   415: {"description": "not an image"},
                   503: {"description": "the queue is full (see Retry-After)"}},  # fmt: skip
    )
    async def create_job(
        image: UploadFile = File(description="the image to enhance (PNG, JPEG, WebP, TIFF, BMP)"),
        reference: UploadFile | None = File(None, description="optional ground truth of the result's size"),
        model: str = Form("bicubic"),
        scale: float | None = Form(None, description="default: the model's own"),
        strength: float = Form(1.0, description="0 to 1; 0: plain bicubic, 1: the model's result"),
    ) -> JobStatus:
        """Upload an image and start a job; poll ``/api/jobs/{id}`` until it is done or failed."""
        from acutance.models.descriptor import IMAGE_TASKS
        from acutance.models.registry import model_info
        from acutance.pipeline.enhance import plan_enhance, resolve_scale

        # Every field first, before a byte of the upload is held in memory.
        try:
            info = model_info(model)
            if info.task not in IMAGE_TASKS:
                raise HTTPException(400, f"model {model!r} is a {info.task} model; it does not enhance images")
            if scale is not None:
                limits.check_scale_value(scale)
            resolved = resolve_scale(_Described(info), scale)
        except AcutanceError as error:
            raise HTTPException(400, str(error)) from None
        if not (math.isfinite(strength) and 0.0 <= strength <= 1.0):
            raise HTTPException(400, f"strength must be between 0 and 1, got {strength!r}")
        has_reference = reference is not None and bool(reference.filename)
        sizes = [_declared_size(image, settings)] + ([_declared_size(reference, settings)] if has_reference else [])
        try:
            manager.reserve(sum(sizes))
        except QueueFull as full:
            raise HTTPException(503, str(full), headers={"Retry-After": str(full.retry_after)}) from None
        try:
            with limits.using(settings.limits):
                data = await _read_upload(image, settings)
                width, height, alpha = _check_header(data, image.filename or "upload")
                reference_data, reference_pixels = None, 0
                if has_reference:
                    reference_data = await _read_upload(reference, settings)
                    ref_w, ref_h, _ = _check_header(reference_data, reference.filename, output=True)
                    reference_pixels = ref_w * ref_h
                # The model's run as acutance.pipeline will plan it (output pixels, memory), then the job's own
                # stages around it: all checked here, so that a job that would fail on a limit is never queued.
                tile = tile_for(info, resolved, settings.tile)
                what = f"{model} on {width}x{height} at x{resolved:g}"
                planned = _check(plan_enhance, _Described(info), (height, width, 3), resolved, tile=tile,
                                 writes=True, alpha=alpha)  # fmt: skip
                estimate = job_memory(planned.memory, planned.out_height * planned.out_width, sum(sizes),
                                      reference_pixels)  # fmt: skip
                _check(limits.check_memory, estimate, what)
            spec = JobSpec(
                data=data,
                filename=image.filename or "upload.png",
                model=model,
                scale=resolved,
                strength=strength,
                reference=reference_data,
                reference_name=(reference.filename if has_reference else None) or "reference",
            )
            job = manager.submit(spec, sum(sizes))
        except BaseException:
            manager.release(sum(sizes))
            raise
        return _status(job)

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
        """Forget a job and its files now; a queued job never runs, a running one stops at its next tile."""
        if not manager.delete(job_id):
            raise HTTPException(404, f"no job {job_id!r}")
        return Response(status_code=204)

    # Watermarking: synchronous (a 12 MP image takes well under a second), at most `jobs` at a time, the
    # same upload and pixel limits as jobs, and its working memory checked before decoding.
    marking = threading.BoundedSemaphore(settings.jobs)

    async def _watermark_input(image: UploadFile, key: str, what: str) -> bytes:
        if not key:
            raise HTTPException(400, "key: give the watermark's secret key")
        size = _declared_size(image, settings)
        with limits.using(settings.limits):
            data = await _read_upload(image, settings)
            width, height, _ = _check_header(data, image.filename or "upload")
            _check(limits.check_memory, width * height * WATERMARK_BYTES + size, f"{what} on {width}x{height}")
        return data

    def _watermark_run(fn):
        if not marking.acquire(blocking=False):
            raise HTTPException(503, "all workers are busy; try again", headers={"Retry-After": "2"})
        try:
            with limits.using(settings.limits):
                return fn()
        except AcutanceError as error:
            raise HTTPException(400, str(error)) from None
        finally:
            marking.release()

    @app.post(
        "/api/watermark/embed",
        response_class=Response,
        responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}, 400: {}, 403: {}, 413: {}, 415: {}, 503: {}},
    )
    async def watermark_embed(
        image: UploadFile = File(description="the image to mark"),
        key: str = Form(description="the secret key"),
        text: str = Form(description="the payload as text (UTF-8, up to 24 bytes)"),
        strength: float = Form(1.0, description="1: the default (Y-PSNR about 40 dB)"),
    ) -> Response:
        """The image marked invisibly with ``text`` under ``key``, in its own format and bit depth."""
        from acutance.watermark.payload import profile_for

        if not (math.isfinite(strength) and 0 < strength <= 10):
            raise HTTPException(400, f"strength must be in (0, 10], got {strength!r}")
        try:
            profile_for(text.encode("utf-8"))
        except AcutanceError as error:
            raise HTTPException(400, str(error)) from None
        data = await _watermark_input(image, key, "watermarking")

        def mark() -> tuple[bytes, str]:
            from acutance.io import decode_image, encode_image
            from acutance.watermark import embed

            source = decode_image(data, image.filename or "upload")
            marked = source.replace(embed(source.rgb, text, key, strength), source.alpha)
            return encode_image(marked, source.meta.format), source.meta.format

        encoded, file_format = await run_in_threadpool(_watermark_run, mark)
        stem = (image.filename or "image").rsplit(".", 1)[0]
        name = f"{stem}_wm{EXTENSIONS.get(file_format, '.png')}"
        return Response(encoded, media_type=MEDIA_TYPES.get(file_format, "application/octet-stream"),
                        headers={"Content-Disposition": f'attachment; filename="{_ascii_name(name)}"'})  # fmt: skip

    @app.post("/api/watermark/detect", responses={400: {}, 403: {}, 413: {}, 415: {}, 503: {}})
    async def watermark_detect(
        image: UploadFile = File(description="the image to read"),
        key: str = Form(description="the secret key"),
    ) -> dict:
        """Whether the image holds a mark of ``key``, its payload, and the p-value of "no watermark"."""
        data = await _watermark_input(image, key, "watermark detection")

        def read() -> dict:
            from acutance.io import decode_image
            from acutance.watermark import detect

            found = detect(decode_image(data, image.filename or "upload").rgb, key)
            return {
                "found": found.found, "text": found.text,
                "payload_hex": found.payload.hex() if found.payload is not None else None,
                "p_value": found.p_value, "confidence": found.confidence,
                "scale": round(found.scale, 4), "rotation": round(found.angle, 3),
            }  # fmt: skip

        return await run_in_threadpool(_watermark_run, read)

    # Inpainting: synchronous as watermarking, sharing its workers (`jobs` at a time) and its limit checks.
    @app.post(
        "/api/inpaint",
        response_class=Response,
        responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}, 400: {}, 403: {}, 413: {}, 415: {}, 503: {}},
    )
    async def inpaint_image(
        image: UploadFile = File(description="the image to repair"),
        mask: UploadFile = File(description="the mask, the image's size: opaque (or, without transparency, "
                                "white) pixels are filled; grey is thresholded at 50%"),
        method: Literal["auto", "telea", "ns", "learned"] = Form("auto"),
        dilate: int = Form(0, ge=0, le=64, description="grow the mask by this many pixels first"),
    ) -> Response:
        """The image with the masked pixels filled, every other pixel kept, in its own format and bit depth.

        Headers: ``X-Acutance-Method`` (the method used; ``auto`` resolved), ``X-Acutance-Notice`` (e.g. an
        empty mask: the input comes back unchanged), ``X-Acutance-Seconds``.
        """
        sizes = _declared_size(image, settings) + _declared_size(mask, settings)
        with limits.using(settings.limits):
            data = await _read_upload(image, settings)
            width, height, _ = _check_header(data, image.filename or "upload")
            mask_data = await _read_upload(mask, settings)
            mask_w, mask_h, _ = _check_header(mask_data, mask.filename or "mask")
            if (mask_w, mask_h) != (width, height):
                raise HTTPException(400, f"the mask is {mask_w}x{mask_h} but the image is {width}x{height}")
            _check(limits.check_memory, width * height * INPAINT_BYTES + sizes, f"inpainting {width}x{height}")

        def fill() -> tuple[bytes, str, str, list[str], float]:
            import time

            from acutance.inpaint import choose_method, inpaint, prepare_mask
            from acutance.inpaint.mask_file import dilate as grow
            from acutance.inpaint.mask_file import is_binary, mask_values
            from acutance.io import decode_image, encode_image

            started = time.perf_counter()
            source = decode_image(data, image.filename or "upload")
            values = mask_values(decode_image(mask_data, mask.filename or "mask"))
            notices = [] if is_binary(values) else ["the mask's grey pixels were thresholded at 50%"]
            holes = grow(prepare_mask(values, source.rgb.shape), dilate)
            used = "none"
            if holes.any():
                used = choose_method(holes) if method == "auto" else method
                rgb = inpaint(source.rgb, holes, used)
            else:
                notices.append("the mask marks no pixel: the image is returned unchanged")
                rgb = source.rgb
            encoded = encode_image(source.replace(rgb, source.alpha), source.meta.format)
            return encoded, source.meta.format, used, notices, time.perf_counter() - started

        encoded, file_format, used, notices, seconds = await run_in_threadpool(_watermark_run, fill)
        stem = (image.filename or "image").rsplit(".", 1)[0]
        name = f"{stem}_inpaint{EXTENSIONS.get(file_format, '.png')}"
        headers = {"Content-Disposition": f'attachment; filename="{_ascii_name(name)}"', "X-Acutance-Method": used,
                   "X-Acutance-Seconds": f"{seconds:.3f}"}  # fmt: skip
        if notices:
            headers["X-Acutance-Notice"] = _ascii_name("; ".join(notices))
        return Response(encoded, media_type=MEDIA_TYPES.get(file_format, "application/octet-stream"), headers=headers)

    # Colour style (acutance.grading.dncm): synchronous as watermarking, sharing its workers and limit checks.
    async def _style_inputs(image: UploadFile, reference: UploadFile, strength: float) -> tuple[bytes, bytes]:
        if not (math.isfinite(strength) and 0 <= strength <= 1):
            raise HTTPException(400, f"strength must be in 0..1, got {strength!r}")
        sizes = _declared_size(image, settings) + _declared_size(reference, settings)
        with limits.using(settings.limits):
            data = await _read_upload(image, settings)
            width, height, _ = _check_header(data, image.filename or "upload")
            ref_data = await _read_upload(reference, settings)
            ref_w, ref_h, _ = _check_header(ref_data, reference.filename or "reference")
            pixels = width * height + ref_w * ref_h
            _check(limits.check_memory, pixels * STYLE_BYTES + sizes, f"styling {width}x{height}")
        return data, ref_data

    def _style_mapping(data: bytes, ref_data: bytes, image: UploadFile, reference: UploadFile):
        from acutance.grading.dncm import compute_mapping
        from acutance.io import decode_image

        source = decode_image(data, image.filename or "upload")
        ref = decode_image(ref_data, reference.filename or "reference").rgb
        return source, compute_mapping(source.rgb, ref)  # a grayscale reference: a 400 with the reason

    @app.post(
        "/api/style",
        response_class=Response,
        responses={200: {"content": {t: {} for t in MEDIA_TYPES.values()}}, 400: {}, 403: {}, 413: {}, 415: {}, 503: {}},
    )
    async def style_image(
        image: UploadFile = File(description="the image to restyle"),
        reference: UploadFile = File(description="the image whose colour look to take"),
        strength: float = Form(1.0, description="0: unchanged .. 1: the full look"),
    ) -> Response:
        """The image with the reference's colour look (DNCM), in its own format and bit depth, alpha kept.

        Header ``X-Acutance-Seconds``: the time taken."""
        data, ref_data = await _style_inputs(image, reference, strength)

        def restyle() -> tuple[bytes, str, float]:
            import time

            from acutance.io import encode_image

            started = time.perf_counter()
            source, mapping = _style_mapping(data, ref_data, image, reference)
            styled = source.replace(mapping.apply(source.rgb, strength), source.alpha)
            return encode_image(styled, source.meta.format), source.meta.format, time.perf_counter() - started

        encoded, file_format, seconds = await run_in_threadpool(_watermark_run, restyle)
        stem = (image.filename or "image").rsplit(".", 1)[0]
        name = f"{stem}_style{EXTENSIONS.get(file_format, '.png')}"
        return Response(encoded, media_type=MEDIA_TYPES.get(file_format, "application/octet-stream"),
                        headers={"Content-Disposition": f'attachment; filename="{_ascii_name(name)}"',
                                 "X-Acutance-Seconds": f"{seconds:.3f}"})  # fmt: skip

    @app.post("/api/style/cube", response_class=Response,
              responses={200: {"content": {"text/plain": {}}}, 400: {}, 403: {}, 413: {}, 415: {}, 503: {}})
    async def style_cube(
        image: UploadFile = File(description="the image the look is for"),
        reference: UploadFile = File(description="the image whose colour look to take"),
        strength: float = Form(1.0, description="0: unchanged .. 1: the full look"),
        size: int = Form(33, ge=2, le=65, description="grid points per axis"),
    ) -> Response:
        """The same look as ``/api/style`` as an Adobe/Resolve ``.cube`` 3D LUT (for Resolve, Premiere, ffmpeg)."""
        data, ref_data = await _style_inputs(image, reference, strength)

        def export() -> bytes:
            from acutance.grading.cube import cube_bytes

            _, mapping = _style_mapping(data, ref_data, image, reference)
            ref_stem = (reference.filename or "reference").rsplit(".", 1)[0]
            return cube_bytes(mapping.lut_table(size, strength), title=f"acutance style {_ascii_name(ref_stem)}")

        text = await run_in_threadpool(_watermark_run, export)
        stem = (image.filename or "image").rsplit(".", 1)[0]
        return Response(text, media_type="text/plain; charset=utf-8",
                        headers={"Content-Disposition": f'attachment; filename="{_ascii_name(stem)}_look.cube"'})

    app.mount("/static", StaticFiles(directory=str(STATIC)), name="static")
    return app


class _Described:
    """``resolve_scale`` only reads ``.info``: check a scale without loading the model."""

    def __init__(self, info):
        self.info = info


def _field_name(location) -> str:
    parts = [str(p) for p in location if p not in ("body", "query", "path", "header")]
    return ".".join(parts) or "request"


# Watermarking's working memory per pixel: the decoded float32 RGB and alpha (16), the embedding (measured
# 32), the encoder's conversion (40), with a margin.
WATERMARK_BYTES = 100
# Inpainting's working memory per pixel: the decoded image, alpha and mask (24), the method (OpenCV: 8-bit
# copies and a float result, 30; the learned path's own target is 1.5 GB at 3840x2160, 180), the encoder (40).
INPAINT_BYTES = 250
# Styling's working memory per pixel (the input's and the reference's): the decoded RGB and alpha (16), the
# styled copy (12), the encoder's conversion (40), with a margin.
STYLE_BYTES = 80


def _check(check, *args, **options):
    """Run an ``acutance.limits`` check; a request over a limit is a 413 with the check's one line."""
    try:
        return check(*args, **options)
    except limits.LimitError as error:
        raise HTTPException(413, str(error)) from None
    except AcutanceError as error:
        raise HTTPException(400, str(error)) from None


def _declared_size(upload: UploadFile, settings: WebSettings) -> int:
    """The upload's size as received (spooled by Starlette, not yet in memory); 413 over the limit."""
    size = upload.size if upload.size is not None else settings.max_upload_bytes
    if size > settings.max_upload_bytes:
        raise HTTPException(413, f"{upload.filename}: larger than the limit of {settings.max_upload_bytes / 1e6:g} MB")
    return size


async def _read_upload(upload: UploadFile, settings: WebSettings) -> bytes:
    data = await upload.read(settings.max_upload_bytes + 1)
    if len(data) > settings.max_upload_bytes:
        raise HTTPException(413, f"{upload.filename}: larger than the limit of {settings.max_upload_bytes / 1e6:g} MB")
    if not data:
        raise HTTPException(400, f"{upload.filename}: the file is empty")
    return data


def _check_header(data: bytes, name: str, output: bool = False) -> tuple[int, int, bool]:
    """(width, height, has alpha) from the header alone, checked against the input (or output) pixel limit.

    415 if it is not an image we read, 413 if it has too many pixels.
    """
    from PIL import Image as PILImage

    from acutance.io.image import FORMATS

    try:
        with warnings.catch_warnings():  # the size is checked below, against our limit: no raw warning
            warnings.simplefilter("ignore", PILImage.DecompressionBombWarning)
            with PILImage.open(io.BytesIO(data), formats=FORMATS) as pil:
                width, height = pil.size
                alpha = pil.mode in ("RGBA", "LA", "PA", "RGBa", "La") or "transparency" in pil.info
                try:
                    orientation = pil.getexif().get(0x0112, 1)
                except Exception:  # a damaged file past its header: the job reports why it cannot be read
                    orientation = 1
    except PILImage.DecompressionBombError:
        limit = limits.current().max_output_pixels if output else limits.current().max_input_pixels
        raise HTTPException(413, f"{name}: too many pixels (the limit is {limit / 1e6:g} MP)") from None
    except Exception:
        raise HTTPException(415, f"{name}: not a PNG, JPEG, WebP, TIFF or BMP image") from None
    if output:
        _check(limits.check_output_pixels, width, height, f"{name}: the reference")
    else:
        _check(limits.check_input_pixels, width, height, name)
    return (height, width, alpha) if orientation in (5, 6, 7, 8) else (width, height, alpha)


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
