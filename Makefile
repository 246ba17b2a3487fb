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

.PHONY: setup demo test test-fast lint-imports browser spreadsheet pdf-tools messages lock bench bench-ingest bench-sources bench-verbs bench-attribution clean

setup: $(STAMP)

$(STAMP): requirements.lock pyproject.toml
	@test -x $(VENV)/bin/python || $(PYTHON) -m venv $(VENV)
	@test -x $(VENV)/bin/uv || $(VENV)/bin/python -m pip install --quiet --disable-pip-version-check "uv==$(UV_VERSION)"
	$(VENV)/bin/uv pip sync --quiet --python $(VENV)/bin/python --compile-bytecode requirements.lock
	$(VENV)/bin/uv pip install --quiet --python $(VENV)/bin/python --no-deps --compile-bytecode -e .
	@touch $(STAMP)

demo: setup
	$(VENV)/bin/orbit demo

# The whole suite with its checks (a few minutes): the layers contract (pyproject.toml [tool.importlinter]),
# ruff, mypy, then the tests; `make test-fast` is the inner loop (no `slow` tests).
# The fast tests run on PYTEST_WORKERS processes (pytest-xdist); the slow ones (crash, serve, timing and
# scale tests, which measure seconds) run one at a time afterwards.
PYTEST_WORKERS ?= 2
test: setup browser spreadsheet pdf-tools
	$(VENV)/bin/lint-imports
	$(VENV)/bin/ruff check .
	$(VENV)/bin/mypy
	$(VENV)/bin/python -m pytest -m "not slow" -n $(PYTEST_WORKERS)
	$(VENV)/bin/python -m pytest -m slow

test-fast: setup
	$(VENV)/bin/python -m pytest -m "not slow" -n $(PYTEST_WORKERS)

# Only the layers contract (fast): nothing imports against orbit > flows > warehouse > transforms > schemas.
lint-imports: setup
	$(VENV)/bin/lint-imports

# Debian's chromium for the report's browser test (tests/orbit/test_report.py). If it cannot be
# installed, that test fails saying so; the rest of the suite still runs.
browser:
	@command -v chromium >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=; else sudo="sudo -n"; fi; \
	  { $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium; } \
	  || echo "warning: could not install chromium (apt-get install chromium); the report's browser test will fail" >&2; }

# Debian's LibreOffice Calc (headless) for the spreadsheet test of HR's XLSX export
# (tests/flows/test_export.py sums its bonus column with a real spreadsheet engine).
spreadsheet:
	@command -v soffice >/dev/null 2>&1 || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=; else sudo="sudo -n"; fi; \
	  { $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends libreoffice-calc; } \
	  || echo "warning: could not install libreoffice-calc; the XLSX spreadsheet test will fail" >&2; }

# Debian's Pango (WeasyPrint lays out the PDF statements with it), DejaVu fonts and poppler-utils (the tests
# read the PDFs' text layer with pdftotext).
pdf-tools:
	@{ command -v pdftotext >/dev/null 2>&1 && ldconfig -p | grep -q libpangoft2-1.0 && fc-list | grep -qi dejavu; } || { \
	  if [ "$$(id -u)" = 0 ]; then sudo=; else sudo="sudo -n"; fi; \
	  { $$sudo apt-get update -qq && $$sudo env DEBIAN_FRONTEND=noninteractive apt-get install -y -qq \
	      libpango-1.0-0 libpangoft2-1.0-0 fonts-dejavu-core fontconfig poppler-utils; } \
	  || echo "warning: could not install Pango/poppler-utils; PDF statements and their tests will fail" >&2; }

# Statements' messages: extract them from the code and template into orbit/locale/orbit.pot and add new ones
# to the es and nl catalogs (translators then fill in each msgstr in orbit/locale/<lang>/LC_MESSAGES/orbit.po).
messages: setup
	$(VENV)/bin/pybabel extract -F orbit/locale/babel.cfg -k N_ --no-location --sort-output --omit-header \
	  -o orbit/locale/orbit.pot .
	$(VENV)/bin/pybabel update -D orbit -i orbit/locale/orbit.pot -d orbit/locale --no-location --omit-header \
	  --no-fuzzy-matching --width 120

# Re-resolve the lock after editing pyproject.toml dependencies.
lock: setup
	$(VENV)/bin/uv pip compile pyproject.toml --extra dev --python-version 3.11 --generate-hashes --quiet -o requirements.lock

# Benchmarks (not part of `make test`); see benchmarks/README.md.
# Every verb at S, M and L against DuckDB's bare read (~15 min on 2 cores); BENCH_ARGS="--sizes S" for a quick run.
bench: setup
	$(VENV)/bin/python benchmarks/bench.py $(BENCH_ARGS)

# One-off verbs on the demo company: wall vs work (VERBS_ARGS="--home DIR --repeat N").
bench-verbs: setup
	$(VENV)/bin/python benchmarks/verbs.py $(VERBS_ARGS)

bench-ingest: setup
	$(VENV)/bin/python benchmarks/ingest.py

bench-sources: setup
	$(VENV)/bin/python benchmarks/sources.py

bench-attribution: setup
	benchmarks/run_attribution.sh

clean:
	rm -rf $(VENV) data
