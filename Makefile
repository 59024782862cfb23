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

run: $(STAMP)
	$(BIN)/feedsvc serve --seeds ./seeds --host 127.0.0.1 --port 8080

test: $(STAMP)
	$(BIN)/pytest -q

clean:
	rm -rf $(VENV) var .pytest_cache

compose-check:
	bash .ci/compose-check
