# Two commands on a fresh machine: `make run` and `make test`.
PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP_RUN := $(VENV)/.stamp-run
STAMP_DEV := $(VENV)/.stamp-dev

.PHONY: run test lint typecheck unit system-deps catalogue geo web-geo clean bench bench-100k soak

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install --quiet --upgrade pip

$(STAMP_RUN): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e .
	touch $@

$(STAMP_DEV): pyproject.toml | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[dev]'
	touch $@ $(STAMP_RUN)

# --demo: on a fresh database, replay the night of 2023-05-20 (bundled) as an exercise.
run: $(STAMP_RUN)
	$(BIN)/tryvoga serve --demo true

lint: $(STAMP_DEV)
	$(BIN)/ruff check src tests scripts bench

typecheck: $(STAMP_DEV)
	$(BIN)/mypy

system-deps:
	scripts/system-deps.sh

unit: $(STAMP_DEV) system-deps
	$(BIN)/pytest -q

test: lint typecheck unit

# The long part of the guarantee suite (docs/reliability.md, "The guarantee suite"), on
# demand, some minutes: the model-based test, the stream churn, the misbehaving webhook
# receivers and the parsers' fuzzing at their bigger sizes, then the crash soak in each of
# SOAK_VARIANTS (SQLite with two workers and with one, PostgreSQL with two, on a fresh
# database of SOAK_POSTGRES's server), each with SOAK_ARGS (--seed, --commands, ...).
SOAK_POSTGRES ?= postgresql://postgres@127.0.0.1:5432/postgres
SOAK_VARIANTS ?= "--workers 2" "--workers 1" "--workers 2 --database-url $(SOAK_POSTGRES)"
soak: $(STAMP_DEV)
	TRYVOGA_SOAK=1 $(BIN)/pytest -q -p no:cacheprovider tests/suite/test_model.py \
		tests/suite/test_stream_churn.py tests/suite/test_webhook_receivers.py \
		tests/suite/test_parser_fuzz.py
	for variant in $(SOAK_VARIANTS); do \
		echo "== crash soak: $$variant $(SOAK_ARGS)"; \
		$(BIN)/python scripts/soak.py $$variant $(SOAK_ARGS) || exit 1; \
	done

# Benchmarks against nginx, nginx + nchan and minimal aiohttp and ASGI apps (Debian packages
# in bench/bench-packages.txt, Python ones in the bench extra); figures go to
# bench/RESULTS.md, the targets judged over the newest three runs (bench/runs/). About 14
# minutes a run.
bench: $(STAMP_DEV)
	scripts/system-deps.sh bench/bench-packages.txt
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py $(BENCH_ARGS)
	$(BIN)/python bench/webhooks.py $(BENCH_ARGS)
	$(BIN)/python bench/abuse.py $(BENCH_ARGS)
	$(BIN)/python bench/nodes.py $(BENCH_ARGS)

# The fan-out alone at 100,000 subscribers (SSE and WebSocket, Tryvoga and nchan): the count
# reached if the machine holds fewer, the whole machine's memory; kept in bench/runs-scale/.
# About 25 minutes on two cores. BENCH_ARGS as for bench/run.py --scale (e.g. --publishes 10).
bench-100k: $(STAMP_DEV)
	scripts/system-deps.sh bench/bench-packages.txt
	$(BIN)/pip install --quiet -e '.[bench]'
	$(BIN)/python bench/run.py --scale 100000 $(BENCH_ARGS)

# Regenerate the packaged data (needs the build extras; not part of run or test).
catalogue: | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[build]'
	$(BIN)/python scripts/build_catalogue.py

geo: | $(BIN)/python
	$(BIN)/pip install --quiet -e '.[build]' shapely
	$(BIN)/python scripts/build_geo.py

# The web map's projected, simplified layers (src/tryvoga/web/static/map-*.json; no extras).
web-geo: | $(BIN)/python
	$(BIN)/python scripts/build_web_geo.py

clean:
	rm -rf $(VENV) .mypy_cache .pytest_cache .ruff_cache
