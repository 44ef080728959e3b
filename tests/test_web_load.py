"""A bounded load test of ``acutance serve`` on 127.0.0.1 (issue 15, acceptance 2), light enough for CI.

The server runs as its own process, so its memory (VmHWM) and CPU time (utime + stime) are read from
/proc. Twelve concurrent uploads of a 12 MP image at ``--jobs 1 --queue 3``: the ones beyond the queue get
503, the server stays under 1.5 GB, and a running job that is deleted stops using the CPU within 2 s.
The heavy version (50 uploads, every accepted job run to the end) is ``benchmarks/web_load.py``.
"""

from __future__ import annotations

import sys
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest

from acutance.io import encode_image

httpx = pytest.importorskip("httpx", reason="the web tests need httpx")
pytest.importorskip("uvicorn", reason="the web tests need the 'web' extra")
if not Path("/proc/self/stat").exists():
    pytest.skip("the load test reads the server's memory and CPU time from /proc (Linux)", allow_module_level=True)

REPO = Path(__file__).resolve().parents[1]
# Last on the path: benchmarks/colour.py must not shadow the colour-science package for later tests.
sys.path.append(str(REPO / "benchmarks"))
from web_load import cpu_seconds, peak_rss, photo_like, serve  # noqa: E402

MAX_RSS = 1.5e9
UPLOADS, QUEUE = 12, 3


def test_concurrent_12mp_uploads_are_bounded_and_delete_stops_the_cpu(tmp_path: Path) -> None:
    data = encode_image(photo_like(3000, 4000), "JPEG", quality=90)  # 12 MP, as a camera writes it
    with serve(["--jobs", "1", "--queue", str(QUEUE), "--tile", "128"]) as (url, process):
        with httpx.Client(base_url=url, timeout=120) as client:

            def upload(_: int) -> httpx.Response:
                files = {"image": ("photo.jpg", data, "image/jpeg")}
                return client.post("/api/jobs", files=files, data={"model": "blade-denoise-25"})

            with ThreadPoolExecutor(UPLOADS) as pool:
                answers = list(pool.map(upload, range(UPLOADS)))
            codes = sorted(a.status_code for a in answers)
            accepted = [a.json()["id"] for a in answers if a.status_code == 202]
            busy = [a for a in answers if a.status_code == 503]
            # One job runs and QUEUE wait (one fewer if the burst beat the worker to its first job).
            assert QUEUE <= len(accepted) <= QUEUE + 1 and len(accepted) + len(busy) == UPLOADS, codes
            assert all(int(a.headers["retry-after"]) >= 1 and "busy" in a.json()["detail"] for a in busy)

            statuses = {job: client.get(f"/api/jobs/{job}").json() for job in accepted}
            running = [job for job, s in statuses.items() if s["status"] == "running"]
            deadline = time.monotonic() + 60
            while not running or client.get(f"/api/jobs/{running[0]}").json()["progress"] < 0.15:
                assert time.monotonic() < deadline, "no job got going"
                time.sleep(0.2)
                statuses = {job: client.get(f"/api/jobs/{job}").json() for job in accepted}
                running = [job for job, s in statuses.items() if s["status"] == "running"]
            for job in accepted:
                if job not in running:
                    assert client.delete(f"/api/jobs/{job}").status_code == 204
            before = cpu_seconds(process.pid)
            time.sleep(1.0)
            busy_cpu = cpu_seconds(process.pid) - before
            assert busy_cpu > 0.1, f"the running job used only {busy_cpu:.2f} s of CPU in 1 s"  # it is working

            assert client.delete(f"/api/jobs/{running[0]}").status_code == 204
            time.sleep(2.0)
            after = cpu_seconds(process.pid)
            time.sleep(1.0)
            idle_cpu = cpu_seconds(process.pid) - after
            assert idle_cpu < 0.05, f"2 s after DELETE the server still used {idle_cpu:.2f} s of CPU per second"
            assert client.get(f"/api/jobs/{running[0]}").status_code == 404
            rss = peak_rss(process.pid)
            print(f"accepted {len(accepted)}, 503 {len(busy)}; CPU {busy_cpu:.2f} s/s before DELETE, "
                  f"{idle_cpu:.3f} s/s 2 s after; peak RSS {rss / 1e9:.2f} GB")  # fmt: skip
            assert rss < MAX_RSS, f"the server peaked at {rss / 1e9:.2f} GB"
