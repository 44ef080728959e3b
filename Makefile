# Two commands do everything on a fresh machine: `make demo` and `make test`.
# Both create .venv and install the package into it first (only when pyproject.toml changed).
# `make test` is the fast lane (tests not marked `slow`); `make test-slow` runs the calibrations on the shared
# data sets and the slowest tests, `make test-all` everything. pytest exits 5 when a lane selects no test
# (e.g. a filtered run): that is not a failure here.

PYTHON ?= python3
VENV   := .venv
BIN    := $(VENV)/bin
STAMP  := $(VENV)/.installed

.PHONY: demo test test-slow test-all warm bench install clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install --quiet --upgrade pip
	$(BIN)/python -m pip install --quiet -e ".[dev]"
	touch $(STAMP)

install: warm

# numba compiles each kernel on first use; compile them all now into its on-disk cache (seconds, once).
warm: $(STAMP)
	$(BIN)/acutance warm --quiet

demo: warm
	$(BIN)/acutance demo --output demo_output --overwrite

test: $(STAMP)
	$(BIN)/python -m pytest -q -m "not slow" || [ $$? -eq 5 ]

test-slow: $(STAMP)
	$(BIN)/python -m pytest -q -m slow || [ $$? -eq 5 ]

test-all: $(STAMP)
	$(BIN)/python -m pytest -q || [ $$? -eq 5 ]

bench: $(STAMP)
	$(BIN)/python benchmarks/run_all.py

clean:
	rm -rf $(VENV) demo_output .pytest_cache
