"""``acutance.limits``: the one resource budget, its checks and the CLI flags that raise it."""

from __future__ import annotations

import argparse
import threading

import pytest

from acutance import limits
from acutance.cli.limit_options import add_limit_arguments, limits_from_arguments
from acutance.limits import GIB, MIB, Limits, LimitError


def test_scale_values():
    assert limits.check_scale_value(2) == 2.0
    assert limits.check_scale_value(limits.MIN_SCALE) == limits.MIN_SCALE
    for bad in (0, -1, float("nan"), float("inf"), 1e-8, 1000, "x", None):
        with pytest.raises(LimitError):
            limits.check_scale_value(bad, "--scale")
    with pytest.raises(LimitError, match="--scale 60 is outside the supported range"):
        limits.check_scale_value(60, "--scale")


def test_pixel_and_memory_checks_name_their_flag():
    with pytest.raises(LimitError, match="--max-output-pixels"):
        limits.check_output_pixels(100_000, 100_000)
    with pytest.raises(LimitError, match="--max-pixels"):
        limits.check_input_pixels(10_000, 10_000)
    with pytest.raises(LimitError, match="use a smaller --tile or raise it with --max-memory"):
        limits.check_memory(2 * GIB)
    with pytest.raises(LimitError, match="; raise it with --max-memory"):
        limits.check_memory(2 * GIB, advice="")
    limits.check_memory(GIB)  # at the limit is fine


def test_zero_turns_a_limit_off_and_using_is_context_local():
    with limits.using(Limits(max_output_pixels=0, max_memory=0)):
        limits.check_output_pixels(100_000, 100_000)
        limits.check_memory(100 * GIB)
        seen = []
        thread = threading.Thread(target=lambda: seen.append(limits.current()))
        thread.start()
        thread.join()
        assert seen == [limits.DEFAULT]  # another thread keeps the defaults
    assert limits.current() == limits.DEFAULT


def test_parse_bytes():
    assert limits.parse_bytes("512M") == 512 * MIB
    assert limits.parse_bytes("2G") == 2 * GIB
    assert limits.parse_bytes("1.5GiB") == int(1.5 * GIB)
    assert limits.parse_bytes("1000") == 1000
    for bad in ("lots", "-1G", "nanG"):
        with pytest.raises(LimitError):
            limits.parse_bytes(bad)


def test_flags():
    parser = argparse.ArgumentParser()
    add_limit_arguments(parser)
    args = parser.parse_args(["--max-memory", "2G", "--max-output-pixels", "0"])
    assert limits_from_arguments(args) == Limits(max_output_pixels=0, max_memory=2 * GIB)
    assert limits_from_arguments(parser.parse_args([])) == limits.DEFAULT
    with pytest.raises(LimitError, match="--max-pixels"):
        limits_from_arguments(parser.parse_args(["--max-pixels", "-5"]))
