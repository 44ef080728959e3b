"""Run every benchmark and rewrite the results table: python benchmarks/run_all.py"""

import runpy
import sys
from pathlib import Path

here = Path(__file__).resolve().parent
sys.path.insert(0, str(here))
for script in ("resize_speed.py", "sr_quality.py", "report.py"):
    print(f"== {script}", flush=True)
    sys.argv = [script]
    runpy.run_path(str(here / script), run_name="__main__")
