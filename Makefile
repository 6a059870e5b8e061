# Vigil: `make demo` runs the demo city on SQLite; `make test` runs the test suite.
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed
PYTEST_ARGS ?=
# Two pytest workers (one per core), each taking whole files (module fixtures stay per file); tests use ephemeral ports and tmp dirs.
XDIST ?= -n 2 --dist loadfile

.PHONY: demo test test-slow test-sqlite bench lint typecheck sysdeps venv clean

sysdeps:
	@bash scripts/install-system-deps.sh

$(STAMP): pyproject.toml
	@test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[test]'
	@touch $(STAMP)

venv: $(STAMP)

demo: sysdeps venv
	$(BIN)/vigil demo

test: sysdeps venv
	$(BIN)/ruff check src tests bench
	$(BIN)/mypy
	$(BIN)/pytest -m "not slow" $(XDIST) --durations=30 $(PYTEST_ARGS)

test-sqlite: sysdeps venv
	VIGIL_TEST_DBS=sqlite $(BIN)/pytest -m "not slow" $(XDIST) $(PYTEST_ARGS)

test-slow: sysdeps venv
	$(BIN)/pytest -m slow $(PYTEST_ARGS)

bench: sysdeps venv
	@for b in bench/[!_]*.py; do echo "== $$b"; $(BIN)/python $$b || exit 1; done

lint: venv typecheck
	$(BIN)/ruff check src tests bench

# mypy with the [tool.mypy] settings in pyproject.toml (files = src/vigil).
typecheck: venv
	$(BIN)/mypy

clean:
	rm -rf $(VENV) vigil-data .pytest_cache
