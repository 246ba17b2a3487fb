# Orbit — two commands on a fresh machine: `make demo` and `make test`.
# Everything runs from .venv, built from requirements.lock with nothing but python3.
PYTHON ?= python3
VENV   := .venv
UV_VERSION := 0.13.9
STAMP  := $(VENV)/.orbit-installed
export DO_NOT_TRACK := 1
export PREFECT_SERVER_ANALYTICS_ENABLED := false
export GX_ANALYTICS_ENABLED := false
export PREFECT_LOGGING_LEVEL ?= WARNING

.PHONY: setup demo test lock bench-ingest bench-attribution clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@test -x $(VENV)/bin/uv || $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(VENV)/bin/uv pip sync --quiet --python $(VENV)/bin/python --compile-bytecode requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python --no-deps --compile-bytecode -e .
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/orbit demo

test: setup
	$(VENV)/bin/python -m pytest

# Re-resolve the lock after editing pyproject.toml dependencies.
lock: setup
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --quiet -o requirements.lock

# Benchmarks (not part of `make test`); see benchmarks/README.md.
bench-ingest: setup
	$(VENV)/bin/python benchmarks/ingest.py

bench-attribution: setup
	benchmarks/run_attribution.sh

clean:
	rm -rf $(VENV) data
