"""Run every benchmark and rewrite the results table: python benchmarks/run_all.py"""

import runpy
import sys
import time
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here))
SCRIPTS = (
    "resize_speed.py", "sr_quality.py", "hashed_speed.py", "restore_quality.py", "filter_speed.py", "lut_sr.py", "lerf.py", "edge_sr.py",
    "degrade_throughput.py", "video_speed.py", "batch_speed.py", "deep_models.py", "niqe_calibration.py",
    "face_restore.py", "face_quality.py", "splut.py", "watermark.py", "colour.py", "irn.py", "inpaint.py",
    "inpaint_video.py", "vsr.py", "antialias.py", "pre_encode.py", "web_load.py", "startup.py", "report.py",
)
# benchmarks/fuzz.py (100,000 inputs per target: hours) runs on its own.
for script in SCRIPTS:
    print(f"== {script}", flush=True)
    sys.argv = [script]
    started = time.perf_counter()
    try:
        runpy.run_path(str(here / script), run_name="__main__")
    except SystemExit as done:  # a script's main() ends with sys.exit(code): go on to the next one
        if done.code not in (None, 0):
            raise
    print(f"== {script}: {time.perf_counter() - started:.0f} s", flush=True)
