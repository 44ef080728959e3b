"""Load test of the web server (issue 15, acceptance 2), on 127.0.0.1 only, bounded in count and time.

``acutance serve --jobs 1`` runs as its own process; its resident memory is sampled from /proc/PID/status
every 20 ms (VmRSS) and its peak read at the end (VmHWM), its CPU time from /proc/PID/stat.

1. Burst: ``--uploads`` (50) concurrent uploads of a ``--megapixels`` (12) MP photo-like PNG with ``--model``
   (cas, a same-size sharpener); those beyond the queue must get 503 with Retry-After; every accepted job
   is run to the end (decode, model, encode, NIQE) and its result downloaded. The server must stay under
   1.5 GB.
2. Cancel: a long tiled job (blade-denoise-25 on the same image) is deleted while it runs; the server's CPU
   use must stop within 2 s (its CPU seconds per second in half-second bins after DELETE are reported, and
   the end of the last bin above a tenth of a core).
3. Refusals: the same image at x2 (48 MP of result, over the working-memory budget) is a 413 naming
   --max-memory; the issue's 69-byte PNG at scale 1e-8 is a 400; a POST from another Origin is a 403.
4. Stage probe (in this process): bytes per pixel of each stage of a job (the coefficients of
   ``acutance.web.jobs``), from VmHWM reset before each stage (/proc/self/clear_refs).

Writes benchmarks/results/web_load.json and .md.
Usage: python benchmarks/web_load.py [--uploads 50] [--megapixels 12] [--model cas] [--queue 8]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import socket
import subprocess
import sys
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import common
import numpy as np

MAX_RSS = 1.5e9
PAGE = os.sysconf("SC_PAGE_SIZE")
TICKS = os.sysconf("SC_CLK_TCK")


def photo_like(height: int, width: int, seed: int = 0) -> np.ndarray:
    """float32 RGB with smooth shading, edges and mild noise (its PNG is about 2 bytes per pixel, like a photo)."""
    rng = np.random.default_rng(seed)
    y = np.arange(height, dtype=np.float32)[:, None]
    x = np.arange(width, dtype=np.float32)[None, :]
    rgb = np.empty((height, width, 3), dtype=np.float32)
    rgb[..., 0] = 0.5 + 0.4 * np.cos(y / 61.0) * np.sin(x / 97.0)
    rgb[..., 1] = (x + y) / float(height + width)
    rgb[..., 2] = ((x // 64 + y // 64) % 2) * 0.6 + 0.2
    rgb += rng.standard_normal(rgb.shape, dtype=np.float32) * np.float32(0.02)
    return np.clip(rgb, 0.0, 1.0, out=rgb)


def _status_kb(pid: int, key: str) -> int:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith(key + ":"):
            return int(line.split()[1])
    raise KeyError(key)


def rss(pid: int) -> int:
    """Resident memory now, bytes."""
    return _status_kb(pid, "VmRSS") * 1024


def peak_rss(pid: int) -> int:
    """Peak resident memory since the process started (or the last clear_refs), bytes."""
    return _status_kb(pid, "VmHWM") * 1024


def cpu_seconds(pid: int) -> float:
    """User + system CPU time of all the process's threads, seconds."""
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / TICKS  # utime, stime (fields 14 and 15 of stat)


@contextlib.contextmanager
def serve(options: list[str], start_timeout: float = 60.0):
    """``acutance serve`` on 127.0.0.1 at a free port in its own process; yields (base URL, Popen)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    env = dict(os.environ, PYTHONPATH=str(common.ROOT / "src"))
    command = [sys.executable, "-m", "acutance", "serve", "--host", "127.0.0.1", "--port", str(port), *options]
    process = subprocess.Popen(command, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    url = f"http://127.0.0.1:{port}"
    try:
        import httpx

        deadline = time.monotonic() + start_timeout
        while True:
            try:
                httpx.get(url + "/api/models", timeout=2).raise_for_status()
                break
            except httpx.TransportError:
                if process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError(f"acutance serve did not start: {process.stderr.read().decode()[-2000:]}")
                time.sleep(0.1)
        yield url, process
    finally:
        process.terminate()
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class Sampler(threading.Thread):
    """VmRSS of a process every ``period`` seconds, and its CPU time, in the background."""

    def __init__(self, pid: int, period: float = 0.02):
        super().__init__(daemon=True)
        self.pid, self.period = pid, period
        self.samples: list[tuple[float, int, float]] = []  # (monotonic time, rss bytes, cpu seconds)
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.is_set():
            try:
                self.samples.append((time.monotonic(), rss(self.pid), cpu_seconds(self.pid)))
            except (OSError, KeyError):
                return
            time.sleep(self.period)

    def stop(self) -> None:
        self.stopped.set()
        self.join()


def burst(url: str, data: bytes, uploads: int, model: str) -> dict:
    import httpx

    with httpx.Client(base_url=url, timeout=600) as client:

        def upload(_: int) -> httpx.Response:
            return client.post("/api/jobs", files={"image": ("photo.png", data, "image/png")}, data={"model": model})

        start = time.monotonic()
        with ThreadPoolExecutor(uploads) as pool:
            answers = list(pool.map(upload, range(uploads)))
        upload_seconds = time.monotonic() - start
        codes = [a.status_code for a in answers]
        accepted = [a.json()["id"] for a in answers if a.status_code == 202]
        refused = [a for a in answers if a.status_code == 503]
        # Poll every job in turn and download each result as soon as it is done, as the page does: the
        # server keeps finished results only within --max-kept-mb.
        jobs, pending = [], list(accepted)
        while pending:
            for job in list(pending):
                answer = client.get(f"/api/jobs/{job}")
                status = answer.json() if answer.status_code == 200 else {"status": f"HTTP {answer.status_code}"}
                if status["status"] in ("queued", "running"):
                    continue
                pending.remove(job)
                result = client.get(f"/api/jobs/{job}/result") if status["status"] == "done" else None
                jobs.append({"status": status["status"], "seconds": status.get("seconds"),
                             "message": status.get("message", answer.text[:200]),
                             "niqe": (status.get("metrics") or {}).get("niqe"),
                             "result_bytes": len(result.content) if result is not None else 0})  # fmt: skip
            time.sleep(0.2)
        return {
            "uploads": uploads,
            "codes": {str(code): codes.count(code) for code in sorted(set(codes))},
            "retry_after": sorted({a.headers.get("retry-after") for a in refused}),
            "busy_message": refused[0].json()["detail"] if refused else None,
            "upload_seconds": round(upload_seconds, 2),
            "jobs": jobs,
            "seconds": round(time.monotonic() - start, 2),
        }


def cancel(url: str, pid: int, data: bytes, sampler: Sampler) -> dict:
    import httpx

    with httpx.Client(base_url=url, timeout=600) as client:
        job = client.post("/api/jobs", files={"image": ("photo.png", data, "image/png")},
                          data={"model": "blade-denoise-25"}).json()["id"]  # fmt: skip
        while (status := client.get(f"/api/jobs/{job}").json())["progress"] < 0.2:
            time.sleep(0.1)
        before = cpu_seconds(pid)
        time.sleep(1.0)
        busy = cpu_seconds(pid) - before
        deleted = time.monotonic()
        code = client.delete(f"/api/jobs/{job}").status_code
        time.sleep(4.0)
    after = [(t - deleted, c) for t, _, c in sampler.samples if deleted <= t <= deleted + 4.0]
    # CPU use in half-second bins after DELETE (CPU seconds per second; the clock ticks in 10 ms steps).
    bins = []
    for start in np.arange(0.0, 4.0, 0.5):
        inside = [(t, c) for t, c in after if start <= t <= start + 0.5]
        rate = (inside[-1][1] - inside[0][1]) / (inside[-1][0] - inside[0][0]) if len(inside) > 1 else 0.0
        bins.append(round(rate, 3))
    # Stopped: the end of the last bin above a tenth of a core (the running job used more than that).
    stopped = max((0.5 * (i + 1) for i, rate in enumerate(bins) if rate > 0.1), default=0.0)
    window = [c for t, c in after if 2.0 <= t <= 4.0]
    return {
        "model": "blade-denoise-25",
        "progress_at_delete": status["progress"],
        "cpu_seconds_per_second_before_delete": round(busy, 3),
        "delete_status": code,
        "cpu_seconds_per_second_by_half_second_after_delete": bins,
        "cpu_stopped_after_seconds": stopped,
        "cpu_seconds_from_2_to_4_s_after_delete": round(window[-1] - window[0], 3) if len(window) > 1 else None,
    }


def refusals(url: str, data: bytes) -> dict:
    import httpx

    from acutance.io import encode_image

    tiny = encode_image(np.zeros((1, 1, 3), np.uint8), "PNG")
    with httpx.Client(base_url=url, timeout=600) as client:
        big = client.post("/api/jobs", files={"image": ("photo.png", data, "image/png")},
                          data={"model": "bicubic", "scale": "2"})  # fmt: skip
        bomb = client.post("/api/jobs", files={"image": ("tiny.png", tiny, "image/png")},
                           data={"model": "bicubic", "scale": "1e-8"})  # fmt: skip
        evil = client.post("/api/jobs", files={"image": ("tiny.png", tiny, "image/png")},
                           headers={"Origin": "http://evil.example"})  # fmt: skip
    return {
        "x2_of_the_12mp_image": [big.status_code, big.json()["detail"]],
        f"{len(tiny)}_byte_png_at_scale_1e-8": [bomb.status_code, bomb.json()["detail"]],
        "post_from_another_origin": [evil.status_code, evil.json()["detail"]],
    }


def stage_probe(height: int, width: int) -> dict:
    """Bytes per pixel of each stage of a job, on a photo-like image: peak RSS over the stage minus before.

    Run in a fresh process with a fixed malloc mmap threshold, so that every freed array goes back to the
    system and a later stage cannot hide its allocations in memory an earlier one left resident.
    """
    env = dict(os.environ, MALLOC_MMAP_THRESHOLD_="131072", PYTHONPATH=str(common.ROOT / "src"))
    command = [sys.executable, __file__, "--probe", f"{height}x{width}"]
    output = subprocess.run(command, env=env, capture_output=True, text=True, check=True).stdout
    return json.loads(output.strip().splitlines()[-1])


def _probe(height: int, width: int) -> dict:
    from acutance.io import decode_image, encode_image
    from acutance.metrics.registry import compute

    def reset() -> int:
        Path("/proc/self/clear_refs").write_text("5")
        return peak_rss(os.getpid())

    def grown(base: int, pixels: int) -> float:
        return round((peak_rss(os.getpid()) - base) / pixels, 1)

    data = encode_image(photo_like(height, width), "PNG")
    pixels, rows = height * width, {}
    base = reset()
    image = decode_image(data, "probe.png")
    rows["decode (per input pixel)"] = grown(base, pixels)
    big = image.replace(np.repeat(np.repeat(image.rgb, 2, axis=0), 2, axis=1), None)  # an x2 result
    base = reset()
    encoded = encode_image(big, "PNG")
    rows["encode, beside the result (per output pixel)"] = grown(base, 4 * pixels)
    del big
    base = reset()
    written = decode_image(encoded, "out.png").rgb
    rows["decode of the result (per output pixel)"] = grown(base, 4 * pixels)
    other = np.clip(written * np.float32(0.9), 0, 1)
    base = reset()
    compute("psnr", written, other), compute("ssim", written, other)
    rows["psnr + ssim, beside both images (per output pixel)"] = grown(base, 4 * pixels)
    del other
    base = reset()
    compute("niqe", written)
    rows["niqe, beside the result (per output pixel)"] = grown(base, 4 * pixels)
    return {"image": f"{width}x{height} (results {2 * width}x{2 * height})", "bytes_per_pixel": rows}


def markdown(payload: dict) -> str:
    b, c, r = payload["burst"], payload["cancel"], payload["refusals"]
    done = [j for j in b["jobs"] if j["status"] == "done"]
    lines = [
        "# Web server under load (`benchmarks/web_load.py`)",
        "",
        f"`acutance serve {' '.join(payload['server_options'])}` on 127.0.0.1, {payload['megapixels']} MP "
        f"photo-like PNG ({payload['png_mb']} MB), {b['uploads']} concurrent uploads of model `{payload['model']}`.",
        "",
        "| measure | value | bound |",
        "|---|---|---|",
        f"| server peak RSS (VmHWM) | {payload['peak_rss_gb']} GB | < 1.5 GB |",
        f"| server RSS when idle, after start | {payload['idle_rss_gb']} GB | |",
        *(f"| sampled RSS peak: {name} | {gb} GB | |" for name, gb in payload["sampled_max_rss_gb_by_phase"].items()),
        f"| answers | {', '.join(f'{n}x {code}' for code, n in b['codes'].items())} | beyond the queue: 503 |",
        f"| Retry-After | {', '.join(map(str, b['retry_after']))} s | present |",
        f"| accepted jobs done | {len(done)} of {len(b['jobs'])}, {b['seconds']} s in all | all |",
        f"| CPU use after DELETE of a running job stopped within | {c['cpu_stopped_after_seconds']} s | < 2 s |",
        f"| CPU before DELETE; after it, per half second | {c['cpu_seconds_per_second_before_delete']}; "
        f"{', '.join(map(str, c['cpu_seconds_per_second_by_half_second_after_delete']))} s/s | |",
        f"| CPU from 2 to 4 s after DELETE | {c['cpu_seconds_from_2_to_4_s_after_delete']} s | ~0 |",
        f"| x2 of the image (48 MP result) | {r['x2_of_the_12mp_image'][0]} | 413 |",
    ]
    for key in r:
        if key != "x2_of_the_12mp_image":
            lines.append(f"| {key.replace('_', ' ')} | {r[key][0]} | {'400' if '1e-8' in key else '403'} |")
    lines += ["", "Messages:", ""] + [f"- {key.replace('_', ' ')}: `{value[1]}`" for key, value in r.items()]
    lines += [f"- busy: `{b['busy_message']}`", "", "Stage probe (bytes per pixel, "
              f"{payload['stages']['image']}):", ""]  # fmt: skip
    lines += [f"- {k}: {v}" for k, v in payload["stages"]["bytes_per_pixel"].items()]
    lines += ["", f"Load average before the run: {payload['load_before']}; verdict: **{payload['verdict']}**.", ""]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--uploads", type=int, default=50)
    parser.add_argument("--megapixels", type=float, default=12.0)
    parser.add_argument("--model", default="cas")
    parser.add_argument("--queue", type=int, default=8)
    parser.add_argument("--skip-probe", action="store_true")
    parser.add_argument("--probe", metavar="HxW", help=argparse.SUPPRESS)  # the stage probe's own process
    args = parser.parse_args()
    if args.probe:
        height, width = map(int, args.probe.split("x"))
        print(json.dumps(_probe(height, width)))
        return
    from acutance.io import encode_image

    width = int(round((args.megapixels * 1e6 * 4 / 3) ** 0.5))
    height = int(round(width * 3 / 4))
    data = encode_image(photo_like(height, width), "PNG")
    options = ["--jobs", "1", "--queue", str(args.queue)]
    load_before = os.getloadavg()
    with serve(options) as (url, process):
        sampler = Sampler(process.pid)
        idle = rss(process.pid)
        sampler.start()
        marks = [time.monotonic()]
        result_burst = burst(url, data, args.uploads, args.model)
        marks.append(time.monotonic())
        result_cancel = cancel(url, process.pid, data, sampler)
        marks.append(time.monotonic())
        result_refusals = refusals(url, data)
        sampler.stop()
        marks.append(time.monotonic())
        peak = peak_rss(process.pid)
    phases = {}
    for name, start, end in zip(("burst and its jobs", "cancel", "refusals"), marks, marks[1:]):
        inside = [r for t, r, _ in sampler.samples if start <= t <= end]
        phases[name] = round(max(inside) / 1e9, 3) if inside else None
    payload = {
        "megapixels": round(width * height / 1e6, 2),
        "image": f"{width}x{height}",
        "png_mb": round(len(data) / 1e6, 1),
        "model": args.model,
        "server_options": options,
        "peak_rss_gb": round(peak / 1e9, 3),
        "idle_rss_gb": round(idle / 1e9, 3),
        "sampled_max_rss_gb_by_phase": phases,
        "burst": result_burst,
        "cancel": result_cancel,
        "refusals": result_refusals,
        "load_before": [round(x, 2) for x in load_before],
    }
    payload["stages"] = {"image": "skipped", "bytes_per_pixel": {}} if args.skip_probe else stage_probe(1000, 1500)
    ok = (
        peak < MAX_RSS
        and result_burst["codes"].get("503", 0) > 0
        and all(j["status"] == "done" for j in result_burst["jobs"])
        and result_cancel["cpu_stopped_after_seconds"] < 2.0
        and result_refusals["x2_of_the_12mp_image"][0] == 413
    )
    payload["verdict"] = "pass" if ok else "FAIL"
    path = common.write_result("web_load", payload)
    path.with_suffix(".md").write_text(markdown(payload), encoding="utf-8")
    print(json.dumps({k: payload[k] for k in ("peak_rss_gb", "verdict")} | {"codes": result_burst["codes"]}))
    print(f"wrote {path} and {path.with_suffix('.md')}")


if __name__ == "__main__":
    main()
