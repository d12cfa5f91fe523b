PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed

.PHONY: run test test-reliability bench bench-load install clean

$(BIN)/python:
	$(PYTHON) -m venv $(VENV)
	$(BIN)/pip install -q --upgrade pip

$(STAMP): $(BIN)/python pyproject.toml
	$(BIN)/pip install -q -e '.[test]'
	touch $(STAMP)

install: $(STAMP)

run: $(STAMP)
	PAMINN_SIMULATOR=$${PAMINN_SIMULATOR:-on} $(BIN)/paminn serve --demo-if-empty

test: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider $(PYTEST_ARGS)

test-reliability: $(STAMP)
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/reliability $(PYTEST_ARGS)

bench: $(STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.customer_reminders
	$(BIN)/python -m benchmarks.buffer
	$(BIN)/python -m benchmarks.load $(LOAD_ARGS)

bench-load: $(STAMP)
	$(BIN)/python -m benchmarks.load $(LOAD_ARGS)

clean:
	rm -rf $(VENV) paminn.db paminn.db-wal paminn.db-shm
