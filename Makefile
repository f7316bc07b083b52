# Two commands on a fresh machine: `make run` (the whole platform) and `make test` (every check).
SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed

.PHONY: run test soak venv lint bench clean

$(STAMP): requirements.txt requirements-dev.txt
	@test -x $(PY) || "$$(scripts/find_python.sh)" -m venv $(VENV)
	@$(PY) -m pip install -q --upgrade pip 2>&1 | grep -v '^WARNING: Location' || true
	@$(PY) -m pip install -q -r requirements-dev.txt 2>&1 | grep -v '^WARNING: Location' || true
	@$(PY) -c 'import django, rest_framework, celery, channels, pytest' || { echo "error: dependency install failed" >&2; exit 1; }
	@touch $(STAMP)

venv: $(STAMP)

run: $(STAMP)
	@bash scripts/run.sh

test: $(STAMP)
	@bash scripts/test.sh

# the soak test alone (marker `soak`, excluded from `make test`); BAI_SOAK_SECONDS sets its length
soak: $(STAMP)
	@bash scripts/test.sh -m soak -rP tests/integration/faults/test_soak.py

lint: $(STAMP)
	@$(PY) -m ruff check . && $(PY) -m ruff format --check . && $(PY) -m mypy .

bench: $(STAMP)
	@$(PY) -m bench $(NAME)

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
