PYTHON ?= python3
VENV := .venv
BIN := $(VENV)/bin
# uv installs exactly the set in uv.lock (hash-checked). It is itself pinned and lives in its own small venv,
# so a fresh machine needs only Python 3.11+ and make.
UV_VERSION := 0.13.8
TOOLS := .tools
UV := $(TOOLS)/bin/uv
export UV_PROJECT_ENVIRONMENT := $(VENV)
SYNC := $(UV) sync --locked --python $(PYTHON)
RUN_STAMP := $(VENV)/.installed-run
TEST_STAMP := $(VENV)/.installed-test

.PHONY: run test lint test-reliability bench bench-load bench-mixed install lock upgrade clean

$(UV):
	$(PYTHON) -m venv $(TOOLS)
	$(TOOLS)/bin/pip install -q --disable-pip-version-check uv==$(UV_VERSION)

# --locked: refuse to install when pyproject.toml and uv.lock disagree (run `make lock`).
$(RUN_STAMP): $(UV) pyproject.toml uv.lock
	$(SYNC) --inexact -q
	touch $(RUN_STAMP)

$(TEST_STAMP): $(UV) pyproject.toml uv.lock
	$(SYNC) --extra test -q
	touch $(TEST_STAMP) $(RUN_STAMP)

install: $(TEST_STAMP)

run: $(RUN_STAMP)
	PAMINN_SIMULATOR=$${PAMINN_SIMULATOR:-on} $(BIN)/paminn serve --demo-if-empty

# The habits that keep the tree easy to walk, before any test: style and import order (ruff), types in
# core/ and handlers/ (mypy), and the layer rules core <- handlers <- webhooks <- bot (import-linter).
lint: $(TEST_STAMP)
	$(BIN)/ruff check .
	$(BIN)/mypy
	$(BIN)/lint-imports --no-cache

# pytest-randomly orders the tests anew on every run. The seed is chosen here and printed first (pytest's -q
# hides the plugin's own line), so a failing order can be repeated: make test PYTEST_SEED=1234.
# PYTEST_SEED= (empty) passes none, e.g. with PYTEST_ARGS="-p no:randomly" for the files' own order.
ifndef PYTEST_SEED
PYTEST_SEED := $(shell od -An -N4 -tu4 /dev/urandom | tr -d ' ')
endif
ORDER := $(if $(PYTEST_SEED),--randomly-seed=$(PYTEST_SEED))

test: lint
	@echo "test order: $(or $(ORDER),as written) (repeat with make test PYTEST_SEED=$(PYTEST_SEED))"
	$(BIN)/python -m pytest -q -p no:cacheprovider $(ORDER) $(PYTEST_ARGS)

test-reliability: $(TEST_STAMP)
	@echo "test order: $(or $(ORDER),as written) (repeat with make test-reliability PYTEST_SEED=$(PYTEST_SEED))"
	$(BIN)/python -m pytest -q -p no:cacheprovider tests/reliability $(ORDER) $(PYTEST_ARGS)

bench: $(TEST_STAMP)
	$(BIN)/python -m benchmarks.run $(BENCH_ARGS)
	$(BIN)/python -m benchmarks.customer_reminders
	$(BIN)/python -m benchmarks.buffer
	$(BIN)/python -m benchmarks.load $(LOAD_ARGS)
	$(BIN)/python -m benchmarks.mixed $(MIXED_ARGS)

bench-load: $(TEST_STAMP)
	$(BIN)/python -m benchmarks.load $(LOAD_ARGS)

# A round, inbound webhooks and a customer-reminder tick at once (issue #10); e.g. MIXED_ARGS="--assistants 500 --customers 200".
bench-mixed: $(TEST_STAMP)
	$(BIN)/python -m benchmarks.mixed $(MIXED_ARGS)

# Re-resolve after editing pyproject.toml, keeping every other pin where it is.
lock: $(UV)
	$(UV) lock --python $(PYTHON)

# Take new releases deliberately; run `make test` (and `CI=true .ci/run`) before committing the new uv.lock.
upgrade: $(UV)
	$(UV) lock --upgrade --python $(PYTHON)
	@echo "uv.lock upgraded: run 'make test' before you commit it"

clean:
	rm -rf $(VENV) $(TOOLS) paminn.db paminn.db-wal paminn.db-shm
