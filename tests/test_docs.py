"""The README's figures are the ones the code prints (issue 15, acceptance 6).

The README's "What is here" section is parsed, not copied here: every registered model named in backticks
and followed by a PSNR figure ("Set5 36.21 / 32.16 / 29.98 dB", "35.57 / 32.19 / 29.94 dB at x2 / x3 / x4",
"against bicubic's ...") or a time against bicubic ("at 22 / 10 / 11x bicubic's time") is compared with
``acutance list --json``, which prints ``models/measured.json`` as the benchmarks wrote it. A figure whose
data set the benchmarks do not record for that model (Kodak24, LFW, a 2.5x factor) has nothing to match and
is left alone.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

README = Path(__file__).resolve().parents[1] / "README.md"
SR_SETS = ("Set5", "Set14", "BSD100")
NAME = re.compile(r"`([a-z0-9][a-z0-9.-]*(?:/x\d+)*)`")
LIST = r"\d+(?:\.\d+)?(?:\s*/\s*\d+(?:\.\d+)?)*"
DB = re.compile(rf"(?P<values>\d+\.\d+(?:\s*/\s*\d+\.\d+)*)\s*dB(?:\s+at\s+(?P<scales>x\d+(?:\s*/\s*x\d+)*))?")
AGAINST = re.compile(r"against bicubic's (?P<values>\d+\.\d+(?:\s*/\s*\d+\.\d+)*)")
TIMES = re.compile(rf"at (?P<values>{LIST}|\d+-\d+)x bicubic's time")
DATASET = re.compile(r"\b(Set5|Set14|BSD100|Kodak24|classic5|LFW|RealSRSet)\b")


def _split(text: str) -> list[str]:
    return [part.strip() for part in text.split("/")]


def _expand(token: str) -> list[str]:
    """``raisr-x2/x3/x4`` -> raisr-x2, raisr-x3, raisr-x4."""
    first, *others = token.split("/")
    return [first] + [re.sub(r"x\d+$", other, first) for other in others]


def _section(text: str, title: str) -> str:
    start = text.index(f"## {title}")
    end = text.find("\n## ", start + 1)
    return " ".join(text[start : end if end > 0 else None].split())  # one line: figures may wrap


def readme_claims(text: str, listed: dict) -> list[tuple]:
    """``(model, dataset, scale, quoted)`` PSNR figures and ``(model, "time", low, high)`` time figures."""
    claims = []
    tokens = list(NAME.finditer(text))
    for i, token in enumerate(tokens):
        models = [name for name in _expand(token.group(1)) if name in listed]
        if not models:
            continue
        segment = text[token.end() : tokens[i + 1].start() if i + 1 < len(tokens) else len(text)]
        figure = DB.search(segment)
        if figure and not re.search(r"\b(against|above|over)\b", segment[: figure.start()]):
            before = DATASET.findall(text[: token.end() + figure.start()])
            dataset = before[-1] if before else "Set5"
            values = _split(figure.group("values"))
            if figure.group("scales"):
                assert len(models) == 1, f"{token.group(1)}: scales named for several models"
                pairs = [(models[0], scale, value) for scale, value in zip(_split(figure.group("scales")), values)]
            else:
                assert len(values) in (1, len(models)), f"{token.group(1)}: {values} do not match {models}"
                pairs = [(model, _own_scale(listed[model]), value) for model, value in zip(models, values * len(models))]
            if dataset in SR_SETS:
                claims += [(model, dataset, scale, value) for model, scale, value in pairs]
                against = AGAINST.search(segment[figure.end() :])
                if against:
                    scales = [scale for _, scale, _ in pairs]
                    claims += [("bicubic", dataset, scale, value) for scale, value in zip(scales, _split(against.group("values")))]
        times = TIMES.search(segment)
        if times:
            quoted = times.group("values")
            if "-" in quoted:  # a range for all of them
                low, high = quoted.split("-")
                claims += [(model, "time", float(low), float(high)) for model in models]
            else:
                values = _split(quoted)
                assert len(values) == len(models), f"{token.group(1)}: times {values} for {models}"
                claims += [(model, "time", float(v), float(v)) for model, v in zip(models, values)]
    return claims


def _own_scale(entry: dict) -> str:
    scales = entry["scales"]
    assert scales and len(scales) == 1, f"{entry['name']}: a figure without 'at xN' needs a fixed-scale model"
    return f"x{scales[0]}"


@pytest.fixture(scope="module")
def listed() -> dict:
    """``acutance list --json``, by model name."""
    import contextlib
    import io

    from acutance.cli.main import main

    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        assert main(["list", "--json"]) == 0
    return {entry["name"]: entry for entry in json.loads(out.getvalue())}


def test_readme_figures_match_acutance_list(listed):
    text = _section(README.read_text(), "What is here")
    claims = readme_claims(text, listed)
    checked, wrong = [], []
    for model, kind, a, b in claims:
        measured = listed[model]["measured"]
        if kind == "time":
            ratio = measured.get("time_vs_bicubic")
            if ratio is None:
                continue
            checked.append(model)
            # A range must hold the ratio; a single figure is the ratio rounded to whole times.
            if not (a <= ratio <= b if a != b else round(ratio) == a):
                wrong.append(f"{model}: README {a:g}-{b:g}x bicubic's time, acutance list {ratio}x")
            continue
        psnr = measured.get("quality", {}).get(kind, {}).get(a, {}).get("psnr")
        if psnr is None:
            continue  # the benchmarks record nothing for this (a factor such as x2.5): nothing to compare
        checked.append(model)
        if f"{psnr:.{len(b.split('.')[1])}f}" != b:
            wrong.append(f"{model} {kind} {a}: README {b} dB, acutance list {psnr}")
    assert not wrong, "README figures that acutance list contradicts:\n" + "\n".join(wrong)
    # The parser must have found the figures at all (a reworded README must not pass by matching nothing).
    quoted = {model for model, kind, *_ in claims if kind != "time"}
    assert len(quoted) >= 8 and {m for m in quoted if listed[m]["measured"].get("quality")} <= set(checked), (quoted, checked)
    assert any(kind == "time" for _, kind, *_ in claims), "no time figure found in the README"


def test_the_parser_reads_each_form():
    listed = {name: {"name": name, "scales": scales, "measured": {}} for name, scales in
              (("raisr-x2", [2]), ("raisr-x3", [3]), ("lerf", None), ("bicubic", None), ("compact-x2", [2]))}
    text = ("(`raisr-x2/x3`: Set5 36.21 / 32.16 dB against bicubic's 33.68 / 30.41, at 22 / 10x bicubic's time) "
            "(`lerf`: Set5 35.57 / 32.19 dB at x2 / x3 and 33.67 at x2.5) `compact-x2` (37.13 dB) "
            "`raisr-x3`: Kodak24 at sigma 25, 29.55 dB")
    assert readme_claims(text, listed) == [
        ("raisr-x2", "Set5", "x2", "36.21"), ("raisr-x3", "Set5", "x3", "32.16"),
        ("bicubic", "Set5", "x2", "33.68"), ("bicubic", "Set5", "x3", "30.41"),
        ("raisr-x2", "time", 22.0, 22.0), ("raisr-x3", "time", 10.0, 10.0),
        ("lerf", "Set5", "x2", "35.57"), ("lerf", "Set5", "x3", "32.19"),
        ("compact-x2", "Set5", "x2", "37.13"),
    ]
