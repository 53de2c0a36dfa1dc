# duckbert: `make demo` runs the main job on the embedded default, `make test` runs every check.
# Each target creates .venv on first use (CPU torch from this machine's disk, then the project).

PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
TORCH_SPEC ?= torch==2.13.0
PYTEST_WORKERS ?= 2
# The lowest duckdb that pyproject.toml admits; the UDF tests also run on it (test-floor).
DUCKDB_FLOOR := $(shell sed -n 's/.*"duckdb>=\([0-9.]*\)".*/\1/p' pyproject.toml)
FLOOR_DIR := $(VENV)/duckdb-$(DUCKDB_FLOOR)

.PHONY: demo test lint install clean test-floor

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
	$(BIN)/ruff check udf training duckbert tests bench
	$(BIN)/lint-imports
	$(BIN)/sqlfluff lint dbt_project/models dbt_project/macros

test: lint
	HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile
	$(MAKE) test-floor

# The SQL surface on the oldest duckdb the project claims to support.
test-floor: $(STAMP)
	test -d $(FLOOR_DIR) || { rm -rf $(FLOOR_DIR).tmp && $(BIN)/python -m pip install -q \
		--no-deps --target $(FLOOR_DIR).tmp "duckdb==$(DUCKDB_FLOOR)" && \
		mv $(FLOOR_DIR).tmp $(FLOOR_DIR); }
	PYTHONPATH=$(FLOOR_DIR) HF_HUB_OFFLINE=1 $(BIN)/python -c \
		"import duckdb; assert duckdb.__version__ == '$(DUCKDB_FLOOR)', duckdb.__version__"
	PYTHONPATH=$(FLOOR_DIR) HF_HUB_OFFLINE=1 $(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) \
		tests/unit/udf

clean:
	rm -rf $(VENV) dbt_project/target dbt_project/logs warehouse
