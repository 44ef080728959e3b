"""Turn benchmarks/results/*.json into benchmarks/results/README.md (the tables the docs quote)."""

from __future__ import annotations

import json

import common

PUBLISHED_BICUBIC = {
    "Set5": {"x2": (33.66, 0.9299), "x3": (30.39, 0.8682), "x4": (28.42, 0.8104)},
    "Set14": {"x2": (30.24, 0.8688), "x3": (27.55, 0.7742), "x4": (26.00, 0.7027)},
    "BSD100": {"x2": (29.56, 0.8431), "x3": (27.21, 0.7385), "x4": (25.96, 0.6675)},
}


def sr_table(result: dict) -> list[str]:
    models = result["models"]
    columns = [(d, s) for d in PUBLISHED_BICUBIC for s in ("x2", "x3", "x4")]
    lines = [
        "| model | " + " | ".join(f"{d} {s}" for d, s in columns) + " | s / output MP | vs bicubic | peak MB |",
        "|---|" + "---|" * len(columns) + "---|---|---|",
    ]
    for name, row in models.items():
        cells = []
        for dataset, scale in columns:
            q = row["quality"].get(dataset, {}).get(scale)
            cells.append(f"{q['psnr']:.2f} / {q['ssim']:.4f}" if q else "-")
        lines.append(
            f"| {name} | " + " | ".join(cells)
            + f" | {row['seconds_per_output_mp']:.4f} | {row['time_vs_bicubic']:.2f}x | {row['peak_memory_mb']:.0f} |"
        )
    lines.append(
        "| *published bicubic* | "
        + " | ".join(f"{PUBLISHED_BICUBIC[d][s][0]:.2f} / {PUBLISHED_BICUBIC[d][s][1]:.4f}" for d, s in columns)
        + " | | | |"
    )
    return lines


def resize_table(result: dict) -> list[str]:
    lines = [
        "| case | acutance imresize (MATLAB-exact) ms, median / best | OpenCV INTER_CUBIC ms, median / best "
        "| ratio of medians | ratio of best |",
        "|---|---|---|---|---|",
    ]
    for row in result["rows"]:
        lines.append(
            f"| {row['case']} | {row['acutance_ms_median']} / {row['acutance_ms_min']} "
            f"| {row['opencv_cubic_ms_median']} / {row['opencv_cubic_ms_min']} "
            f"| {row['ratio_median']}x | {row.get('ratio_min', '-')}x |"
        )
    return lines


def main() -> None:
    out = ["# Benchmark results", "", "Written by `benchmarks/report.py` from the JSON files beside it; "
           "regenerate with `make bench`. Times are from a shared 2-core machine: compare the ratios.", ""]
    sections = (("sr_quality", "Super-resolution quality (Y-PSNR dB / SSIM) and speed", sr_table),
                ("resize_speed", "MATLAB-exact resize vs OpenCV", resize_table))
    for name, title, table in sections:
        path = common.RESULTS / f"{name}.json"
        if not path.exists():
            continue
        result = json.loads(path.read_text())
        m = result["machine"]
        out += [f"## {title}", "", f"Measured {m['date']} on {m['cpus']} CPUs, numpy {m['numpy']}, "
                f"OpenCV {m['opencv']}. Source: `benchmarks/{name}.py`.", ""]
        out += table(result) + [""]
    # Every other benchmark writes its own markdown section beside its JSON; include them in name order.
    for section in sorted(common.RESULTS.glob("*.md")):
        if section.name != "README.md":
            out += [section.read_text(encoding="utf-8").strip().replace("\n## ", "\n### "), ""]
    (common.RESULTS / "README.md").write_text("\n".join(out), encoding="utf-8")
    print(f"wrote {common.RESULTS / 'README.md'}")


if __name__ == "__main__":
    main()
