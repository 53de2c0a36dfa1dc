# duckbert: `make demo` runs the main job on the embedded default, `make test` runs every check.
# Each target creates .venv on first use (CPU torch from this machine's disk, then the project).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TORCH_SPEC ?= torch==2.13.0
PYTEST_WORKERS ?= 2

.PHONY: demo test lint install clean

$(STAMP): pyproject.toml
	test -x $(BIN)/python || $(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q "$(TORCH_SPEC)"
	$(BIN)/python -m pip install -q -e '.[ray,bi,dev]'
	touch $(STAMP)

install: $(STAMP)

demo: $(STAMP)
	$(BIN)/duckbert demo

lint: $(STAMP)
	$(BIN)/ruff check udf training tests bench
	$(BIN)/sqlfluff lint dbt_project/models macros

test: lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs warehouse
