# The two commands in the README: `make run` and `make test`.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test bench fuzz load compose-check tools clean

$(STAMP): pyproject.toml
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	touch $@

# feedsvc's modules are byte-compiled before each run: with PYTHONDONTWRITEBYTECODE set (CI, our
# image, many shells) an editable install would compile all of them at every start, ~0.5 s of it
# (pip compiles what it installs; an editable install's sources are not installed).
run: $(STAMP)
	$(BIN)/python -m compileall -q feedsvc
	$(BIN)/feedsvc serve --seeds ./seeds --host 127.0.0.1 --port 8080

test: $(STAMP)
	$(BIN)/python -m compileall -q feedsvc
	$(BIN)/ruff check feedsvc tests bench
	$(BIN)/mypy
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) var .pytest_cache

compose-check:
	bash .ci/compose-check

# Benchmarks (never part of `make test`): serving, freshness, profiles, scale, variant flood, search,
# WebSub, Hugo peers -> docs/BENCHMARKS.md, under 25 minutes. Bench-only tools go into the venv here.
# BENCH_ARGS=--quick for a smoke run; BENCH_ARGS=--sections=flood,search,websub,peers for some sections.
bench: $(STAMP)
	bash .ci/bench-deps
	$(BIN)/pip install -q psutil pyinstrument py-spy
	$(BIN)/python bench/run.py $(BENCH_ARGS)

# Many more fuzz examples than `make test` (in-process parse+render, end-to-end over a real server,
# schemathesis against docs/openapi.yaml). FUZZ_EXAMPLES=20000 make fuzz for a longer run.
fuzz: FUZZ_EXAMPLES ?= 5000
fuzz: $(STAMP)
	FEEDSVC_FUZZ_EXAMPLES=$(FUZZ_EXAMPLES) FEEDSVC_SCHEMATHESIS_EXAMPLES=200 \
	  $(BIN)/pytest -q -s --timeout=3600 tests/test_fuzz.py tests/test_hostile.py -k 'not oversized'

# Loopback load with churn against a real `feedsvc serve`: 64 clients for 20 s; prints requests and errors.
load: LOAD_CLIENTS ?= 64
load: LOAD_SECONDS ?= 20
load: $(STAMP)
	FEEDSVC_LOAD_CLIENTS=$(LOAD_CLIENTS) FEEDSVC_LOAD_SECONDS=$(LOAD_SECONDS) \
	  $(BIN)/pytest -q -s --timeout=600 tests/test_load.py
