"""The web API on a live server (uvicorn on 127.0.0.1): jobs, results equal to the CLI's, limits (413),
non-images (415), bad fields and absurd scales (400), other sites and hosts (403), a full queue (503),
cancelling (DELETE), security headers, unknown jobs (404), ten concurrent uploads, OpenAPI."""

from __future__ import annotations

import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from pathlib import Path

import numpy as np
import pytest

from acutance.cli.main import main
from acutance.io import decode_image, encode_image, read_image, write_image
from conftest import smooth_test_image

httpx = pytest.importorskip("httpx", reason="the web tests need httpx")
uvicorn = pytest.importorskip("uvicorn", reason="the web tests need the 'web' extra")
pytest.importorskip("fastapi", reason="the web tests need the 'web' extra")

from acutance.limits import Limits  # noqa: E402
from acutance.web import WebSettings, create_app  # noqa: E402

LIMITS = WebSettings(max_upload_bytes=400_000, limits=Limits(max_input_pixels=300_000, max_output_pixels=2_000_000),
                     jobs=2)  # fmt: skip


@contextmanager
def live_server(settings: WebSettings | None = None):
    """Serve the app on 127.0.0.1 at a free port in a thread; yields the base URL."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(create_app(settings), host="127.0.0.1", port=port, log_level="warning", lifespan="on")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        if time.monotonic() > deadline or not thread.is_alive():
            raise RuntimeError("the test server did not start")
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)


@pytest.fixture(scope="module")
def url():
    with live_server(LIMITS) as base:
        yield base


def png_bytes(height: int = 40, width: int = 56, seed: int = 0) -> bytes:
    return encode_image(smooth_test_image(height, width, seed=seed), "PNG")


def submit(
    client, data: bytes, name: str = "photo.png", reference: bytes | None = None, headers: dict | None = None, **form
) -> httpx.Response:
    files = {"image": (name, data, "application/octet-stream")}
    if reference is not None:
        files["reference"] = ("ref.png", reference, "image/png")
    return client.post("/api/jobs", files=files, data={k: str(v) for k, v in form.items()}, headers=headers)


def wait(client, job_id: str, timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        status = client.get(f"/api/jobs/{job_id}").json()
        if status["status"] in ("done", "failed"):
            return status
        time.sleep(0.03)
    raise AssertionError(f"job {job_id} did not finish in {timeout} s")


def test_models_limits_and_openapi(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        body = client.get("/api/models").json()
        models = {m["name"]: m for m in body["models"]}
        assert models["bicubic"]["scales"] is None and models["raisr-x2"]["scales"] == [2]
        assert models["usm"]["task"] == "sharpen"
        assert body["limits"]["max_upload_bytes"] == LIMITS.max_upload_bytes
        schema = client.get("/openapi.json").json()
        assert {"/api/models", "/api/jobs", "/api/jobs/{job_id}", "/api/jobs/{job_id}/result"} <= set(schema["paths"])
        assert "413" in schema["paths"]["/api/jobs"]["post"]["responses"]
        page = client.get("/")
        assert page.status_code == 200 and "<script src=\"/static/app.js\">" in page.text
        for asset in ("/", "/static/app.js", "/static/style.css"):  # works offline: nothing from a CDN
            assert "://" not in client.get(asset).text, asset


def test_result_equals_cli_and_metrics(url: str, tmp_path: Path) -> None:
    source = tmp_path / "photo.png"
    write_image(source, smooth_test_image(40, 56, seed=3))
    cli_out = tmp_path / "cli.png"
    assert main(["upscale", str(source), "-o", str(cli_out), "-m", "bicubic", "-s", "2"]) == 0
    reference = encode_image(smooth_test_image(80, 112, seed=9), "PNG")
    with httpx.Client(base_url=url) as client:
        created = submit(client, source.read_bytes(), reference=reference, model="bicubic", scale=2)
        assert created.status_code == 202, created.text
        job = created.json()
        assert len(job["id"]) >= 24 and job["status"] in ("queued", "running")
        status = wait(client, job["id"])
        assert status["status"] == "done", status
        assert status["output_size"] == [112, 80] and status["result_name"] == "photo_bicubic_x2.png"
        result = client.get(f"/api/jobs/{job['id']}/result")
        assert result.status_code == 200 and result.headers["content-type"] == "image/png"
        assert 'filename="photo_bicubic_x2.png"' in result.headers["content-disposition"]
        assert result.content == cli_out.read_bytes()
        from acutance.metrics import psnr, ssim

        ours, ref = read_image(cli_out).rgb, decode_image(reference).rgb
        assert status["metrics"]["psnr"] == pytest.approx(psnr(ref, ours), abs=1e-3)
        assert status["metrics"]["ssim"] == pytest.approx(ssim(ref, ours), abs=1e-4)
        try:
            import acutance.metrics.niqe  # noqa: F401
        except ImportError:
            assert "no-reference score not available" in status["metrics"]["notes"]
        preview = client.get(f"/api/jobs/{job['id']}/preview/input")
        assert preview.status_code == 200 and preview.content == source.read_bytes()
        assert client.delete(f"/api/jobs/{job['id']}").status_code == 204
        assert client.get(f"/api/jobs/{job['id']}").status_code == 404


def test_strength_zero_is_bicubic_and_tiff_gets_a_png_preview(url: str) -> None:
    tiff = encode_image(smooth_test_image(32, 40, seed=4), "TIFF")
    with httpx.Client(base_url=url) as client:
        plain = wait(client, submit(client, tiff, "a.tif", model="bicubic", scale=2).json()["id"])
        soft = wait(client, submit(client, tiff, "a.tif", model="cas-x2", strength=0).json()["id"])
        sharp = wait(client, submit(client, tiff, "a.tif", model="cas-x2", strength=1).json()["id"])
        get = lambda job: client.get(f"/api/jobs/{job['id']}/result").content  # noqa: E731
        assert get(soft) == get(plain) != get(sharp)
        assert get(plain)[:4] in (b"II*\x00", b"MM\x00*")
        assert client.get(f"/api/jobs/{plain['id']}/preview/result").content.startswith(b"\x89PNG")
        response = submit(client, tiff, model="cas-x2", strength=1.5)
        assert response.status_code == 400 and "strength" in response.json()["detail"]


def test_bad_requests_are_4xx_with_a_message(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        response = submit(client, b"hello, this is text", "notes.txt")
        assert response.status_code == 415 and "not a PNG, JPEG" in response.json()["detail"]
        big = np.random.default_rng(0).integers(0, 256, (400, 400, 3), dtype=np.uint8)  # ~480 kB PNG
        response = submit(client, encode_image(big, "PNG"))
        assert response.status_code == 413 and "limit" in response.json()["detail"]
        response = submit(client, encode_image(np.zeros((600, 600, 3), np.uint8), "PNG"))  # small file, 0.36 MP
        assert response.status_code == 413 and "MP" in response.json()["detail"]
        response = submit(client, encode_image(np.zeros((500, 500, 3), np.uint8), "PNG"), model="bicubic", scale=4)
        assert response.status_code == 413 and "output limit" in response.json()["detail"]
        response = submit(client, png_bytes(), model="no-such-model")
        assert response.status_code == 400 and "unknown model" in response.json()["detail"]
        response = submit(client, png_bytes(), model="raisr-x2", scale=3)
        assert response.status_code == 400 and "x2" in response.json()["detail"]
        truncated = png_bytes()[:300]  # a valid header, then nothing: the job fails with the reason
        job = submit(client, truncated, "cut.png", model="bicubic").json()
        status = wait(client, job["id"])
        assert status["status"] == "failed" and "cut.png" in status["message"]
        assert client.get(f"/api/jobs/{job['id']}/result").status_code == 409


def one_line_400(response: httpx.Response, *words: str) -> str:
    assert response.status_code == 400, (response.status_code, response.text)
    detail = response.json()["detail"]
    assert isinstance(detail, str) and detail and "\n" not in detail, detail
    assert "supports , not" not in detail, detail  # the old empty list of factors
    for word in words:
        assert word in detail, detail
    return detail


def test_a_tiny_png_with_an_absurd_scale_is_400_and_every_bad_field_too(url: str) -> None:
    tiny = encode_image(np.zeros((1, 1, 3), np.uint8), "PNG")
    assert len(tiny) < 80  # the 69-byte PNG: accepted with scale=1e-8, the server then grew past 6 GB
    with httpx.Client(base_url=url, timeout=30) as client:
        for scale in ("1e-8", "0", "-2", "inf", "-inf", "nan", "1e9", "abc"):
            one_line_400(submit(client, tiny, model="bicubic", scale=scale), "scale")
        for scale in ("0", "nan", "inf", "1e-8"):  # a fixed-scale model: not "supports , not x0"
            one_line_400(submit(client, tiny, model="raisr-x2", scale=scale), "scale")
        for strength in ("nan", "inf", "-0.5", "1.5", "x"):
            one_line_400(submit(client, tiny, model="bicubic", strength=strength), "strength")
        one_line_400(client.post("/api/jobs", data={"model": "bicubic"}), "image")  # no file at all
        one_line_400(submit(client, tiny, model="niqe-pristine"), "model")  # registered, but not an enhancer
        one_line_400(submit(client, b"", model="bicubic"), "empty")
        assert submit(client, tiny, model="bicubic", scale=32).status_code == 202  # the range's end is fine


def test_other_sites_and_hosts_are_refused_and_every_answer_has_security_headers(url: str) -> None:
    port = url.rsplit(":", 1)[1]
    with httpx.Client(base_url=url, timeout=30) as client:
        png = png_bytes()
        for origin in ("http://evil.example", "null", f"http://localhost:{port}", f"https://127.0.0.1.evil:{port}"):
            response = submit(client, png, model="bicubic", headers={"Origin": origin})
            assert response.status_code == 403 and "another site" in response.json()["detail"], origin
        own = submit(client, png, model="bicubic", headers={"Origin": url})  # the page itself
        assert own.status_code == 202, own.text
        job = own.json()["id"]
        assert client.delete(f"/api/jobs/{job}", headers={"Origin": "http://evil.example"}).status_code == 403
        assert client.get(f"/api/jobs/{job}").status_code == 200  # not deleted
        assert client.delete(f"/api/jobs/{job}", headers={"Origin": url}).status_code == 204
        # DNS rebinding: a page of evil.example whose name now resolves to 127.0.0.1 sends Host: evil.example.
        response = client.get("/api/models", headers={"Host": f"evil.example:{port}"})
        assert response.status_code == 403 and "Host" in response.json()["detail"]
        assert client.get("/api/models", headers={"Host": f"localhost:{port}"}).status_code == 200
        for path in ("/", "/api/models", "/static/app.js", "/api/jobs/nope", "/openapi.json"):
            headers = client.get(path).headers
            assert headers["x-content-type-options"] == "nosniff", path
            assert headers["x-frame-options"] == "DENY", path
            assert "frame-ancestors 'none'" in headers["content-security-policy"], path
        page_policy = client.get("/").headers["content-security-policy"]
        assert "script-src 'self'" in page_policy and "unsafe-inline" not in page_policy
        refused = submit(client, png, headers={"Origin": "http://evil.example"})
        assert refused.headers["x-frame-options"] == "DENY"  # refusals carry them too


def test_a_full_queue_is_503_and_delete_cancels_queued_and_running_jobs() -> None:
    settings = WebSettings(jobs=1, queue=1, tile=64)
    slow = png_bytes(1200, 1200, seed=5)  # BLADE in 64-pixel tiles: well over a minute if it is not stopped
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=60) as client:
        running = submit(client, slow, model="blade-denoise-25").json()["id"]
        deadline = time.monotonic() + 60
        while client.get(f"/api/jobs/{running}").json()["progress"] <= 0.1:
            assert time.monotonic() < deadline, "the slow job did not start"
            time.sleep(0.05)
        queued = submit(client, png_bytes(), model="bicubic")
        assert queued.status_code == 202 and queued.json()["status"] == "queued"
        full = submit(client, png_bytes(), model="bicubic")
        assert full.status_code == 503 and "busy" in full.json()["detail"]
        assert int(full.headers["retry-after"]) >= 1
        # A queued job is cancelled at once: its place is free again.
        assert client.delete(f"/api/jobs/{queued.json()['id']}").status_code == 204
        assert client.get(f"/api/jobs/{queued.json()['id']}").status_code == 404
        waiting = submit(client, png_bytes(), model="bicubic")
        assert waiting.status_code == 202, waiting.text
        # The running job stops at its next tile: the one worker is then free for the waiting job.
        started = time.monotonic()
        assert client.delete(f"/api/jobs/{running}").status_code == 204
        status = wait(client, waiting.json()["id"], timeout=30)
        assert status["status"] == "done", status
        assert time.monotonic() - started < 2.5, "the deleted job kept the worker busy"


def test_a_job_over_the_memory_limit_is_refused_before_it_is_queued() -> None:
    settings = WebSettings(limits=Limits(max_memory=64 << 20))
    with live_server(settings) as base, httpx.Client(base_url=base, timeout=30) as client:
        response = submit(client, png_bytes(300, 400), model="bicubic", scale=8)  # 7.7 MP of float32 and more
        assert response.status_code == 413
        detail = response.json()["detail"]
        assert "MiB" in detail and "--max-memory" in detail, detail
        assert submit(client, png_bytes(), model="bicubic", scale=2).status_code == 202


def test_body_over_the_request_limit_is_cut_short_with_413(url: str) -> None:
    chunk = b"\0" * 256_000

    def body():  # a multipart upload streamed without a Content-Length
        yield b'--xyz\r\nContent-Disposition: form-data; name="image"; filename="a.png"\r\n\r\n'
        for _ in range(40):  # 10 MB, far over the limit
            yield chunk

    headers = {"content-type": "multipart/form-data; boundary=xyz"}
    with httpx.Client(base_url=url) as client:
        response = client.post("/api/jobs", content=body(), headers=headers)
        assert response.status_code == 413 and "request too large" in response.json()["detail"]
    # A declared length over the limit is refused before a byte of the body is read.
    host, port = url.removeprefix("http://").split(":")
    with socket.create_connection((host, int(port)), timeout=10) as raw:
        raw.sendall(b"POST /api/jobs HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: multipart/form-data; boundary=xyz\r\n"
                    b"Content-Length: 99999999\r\n\r\n")  # fmt: skip
        assert raw.recv(4096).startswith(b"HTTP/1.1 413")


def test_unknown_job_is_404(url: str) -> None:
    with httpx.Client(base_url=url) as client:
        for path in ("/api/jobs/{}", "/api/jobs/{}/result", "/api/jobs/{}/preview/input"):
            response = client.get(path.format("aaaaaaaaaaaaaaaaaaaaaaaa"))
            assert response.status_code == 404 and "no job" in response.json()["detail"]
        assert client.delete("/api/jobs/nope").status_code == 404


def test_ten_concurrent_uploads_all_complete(url: str) -> None:
    def one(seed: int) -> tuple[str, bytes, bytes]:
        with httpx.Client(base_url=url, timeout=60) as client:
            data = png_bytes(24 + seed, 32, seed=seed)
            job = submit(client, data, f"img{seed}.png", model="bicubic", scale=2).json()
            status = wait(client, job["id"])
            assert status["status"] == "done", status
            return job["id"], data, client.get(f"/api/jobs/{job['id']}/result").content

    with ThreadPoolExecutor(10) as pool:
        results = list(pool.map(one, range(10)))
    assert len({job_id for job_id, _, _ in results}) == 10
    for seed, (_, data, result) in enumerate(results):
        assert decode_image(result).rgb.shape == (2 * (24 + seed), 64, 3)
        # Each user gets their own image back, not someone else's.
        from acutance.models.registry import load_model
        from acutance.pipeline import enhance_image

        expected = encode_image(enhance_image(decode_image(data), load_model("bicubic"), 2), "PNG")
        assert result == expected


def test_serve_command_starts_and_answers(tmp_path: Path) -> None:
    import os
    import subprocess
    import sys

    from conftest import REPO_ROOT

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(REPO_ROOT / "src"))
    command = [sys.executable, "-m", "acutance", "serve", "--port", str(port), "--max-upload-mb", "1"]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                body = httpx.get(f"http://127.0.0.1:{port}/api/models", timeout=2).json()
                break
            except httpx.TransportError:
                assert process.poll() is None and time.monotonic() < deadline, "acutance serve did not start"
                time.sleep(0.1)
        assert body["limits"]["max_upload_bytes"] == 1_000_000
    finally:
        process.terminate()
        process.wait(timeout=10)
    bad = subprocess.run(command[:-4] + ["--port", "0"], env=env, capture_output=True, text=True, timeout=60)
    assert bad.returncode == 1 and bad.stderr.strip().startswith("acutance: error: --port")
