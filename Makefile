# The two commands a newcomer needs (see README):
#   make run   - set up everything and run cordvault on embedded defaults
#   make test  - set up everything and run the whole test suite (ruff, mypy, pytest)
PY ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: setup run test lint typecheck pytest bench clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PY) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip
	$(BIN)/pip install -q -e '.[dev]'
	touch $(STAMP)

setup: $(STAMP)

run: setup
	$(BIN)/cordvault serve --host $${HOST:-127.0.0.1} --port $${PORT:-8000}

lint: setup
	$(BIN)/ruff check src tests benchmarks
	$(BIN)/ruff format --check src tests benchmarks
	$(BIN)/lint-imports
	$(BIN)/hadolint --no-color Dockerfile
	$(BIN)/check-jsonschema --builtin-schema vendor.compose-spec compose.yaml

typecheck: setup
	$(BIN)/mypy

pytest: setup
	bash scripts/services.sh
	bash scripts/test-tools.sh
	CORDVAULT_REQUIRE_SERVICES=1 $(BIN)/pytest -q $(PYTEST_ARGS)

test: lint typecheck pytest

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
