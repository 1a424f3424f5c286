# The one list of commands: README, CI and developers all call these targets.
SHELL := /bin/bash
PYTHON ?= $(shell for p in python3.13 python3.12 python3.11 python3; do \
	command -v $$p >/dev/null 2>&1 && $$p -c 'import sys; sys.exit(sys.version_info < (3, 11))' 2>/dev/null && { echo $$p; break; }; done)
VENV := .venv
BIN := $(VENV)/bin
STAMP := $(VENV)/.installed-stamp
PYTEST_ARGS ?=
# Test processes (pytest-xdist), two by default. The tests that start whole stacks (tests/e2e, tests/browser, the
# metrics stack, the fault trials) form one xdist group (tests/conftest.py): they run one after another in the same
# process, never two stacks at once on this 2-core machine (that flaked: a worker exiting unasked, a demo over its
# 240 s), while the other process runs the in-process tests. `make test TEST_JOBS=0` runs everything in one process.
PYTEST_JOBS ?= 2
TEST_JOBS ?= 2
XDIST = $(if $(filter 0,$(TEST_JOBS)),,--dist loadgroup)
PORT ?= 8000
SERVICES_ENV := REPROTECT_TEST_POSTGRES_URL=$${REPROTECT_TEST_POSTGRES_URL:-postgresql+psycopg://postgres@127.0.0.1:5432/test} \
	REPROTECT_TEST_REDIS_URL=$${REPROTECT_TEST_REDIS_URL:-redis://127.0.0.1:6379/15} REPROTECT_TEST_REQUIRE_SERVICES=1

.PHONY: lock lock-upgrade lock-export
.PHONY: bench-campaign
.PHONY: install demo demo-campaign dev lint format test test-services test-faults test-contract mutation openapi compose-check bench bench-read clean

LOCKS := requirements/runtime.lock requirements/emulator.lock requirements/dev.lock
UV_EXPORT := $(BIN)/uv export --frozen --quiet --format requirements-txt --no-emit-project --no-dev

# Exactly the lock (every file's hash checked), then the project itself without resolving anything.
$(STAMP): pyproject.toml requirements/dev.lock
	@test -n "$(PYTHON)" || { echo "Python 3.11 or newer is required"; exit 1; }
	$(PYTHON) -m venv $(VENV)
	$(BIN)/python -m pip install -q --upgrade pip
	$(BIN)/python -m pip install -q --require-hashes -r requirements/dev.lock
	$(BIN)/python -m pip install -q --no-deps --no-build-isolation --config-settings editable_mode=compat -e .
	@touch $(STAMP)

install: $(STAMP) ## Create the virtualenv and install the project with its dev tools

demo: install ## Start the embedded stack, reprotect the demo fleet, show progress and refusals, stop
	$(BIN)/reprotect demo

demo-campaign: install ## The demo fleet the whole way home as one campaign (drill + gate, 2 failover waves, commit, reprotect back)
	$(BIN)/reprotect demo --campaign

dev: install ## Run the embedded stack until Ctrl-C (API on http://127.0.0.1:8000; another port: make dev PORT=8001)
	$(BIN)/reprotect dev --port $(PORT)

lint: install ## ruff + mypy (strict on app/ and workers/)
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .
	$(BIN)/mypy

format: install
	$(BIN)/ruff check --fix .
	$(BIN)/ruff format .

test: install lint ## Lint, then the whole suite (Postgres/Redis variants skip unless configured)
	$(BIN)/pytest -n $(TEST_JOBS) $(XDIST) --durations=15 $(PYTEST_ARGS)

# The fault trials join the "stacks" group (tests/conftest.py): they run one after another on one test process
# while the other runs the in-process Postgres and Redis variants (one run instead of two back to back). The trial
# that restarts the shared Postgres server runs afterwards, alone: it would cut the other process's connections.
RESTARTS_POSTGRES := test_a_postgres_restart_mid_run
test-services: install ## The suite's Postgres and Redis variants and the fault trials against the real servers
	@seed=$${REPROTECT_FAULT_SEED:-$$(( (RANDOM << 15) | RANDOM ))}; \
	echo "fault trials seed $$seed (replay: make test-faults REPROTECT_FAULT_SEED=$$seed)"; \
	REPROTECT_FAULT_SEED=$$seed $(SERVICES_ENV) $(BIN)/pytest -n $(PYTEST_JOBS) --dist loadgroup --durations=15 \
		-k "(postgres or redis or fault_trial) and not $(RESTARTS_POSTGRES)" $(PYTEST_ARGS) && \
	REPROTECT_FAULT_SEED=$$seed $(SERVICES_ENV) $(BIN)/pytest tests/faults -k "$(RESTARTS_POSTGRES)" $(PYTEST_ARGS)

test-faults: install ## The fault trials alone, their progress shown: real processes on Postgres + Redis (REPROTECT_FAULT_SEED to replay)
	$(SERVICES_ENV) $(BIN)/pytest tests/faults -s $(PYTEST_ARGS)

test-contract: install ## Schemathesis against the app's own OpenAPI document alone (also part of `make test`)
	$(BIN)/pytest tests/contract -s $(PYTEST_ARGS)

mutation: install ## Mutation testing of the core modules (mutmut; long: not part of CI), then the score per module
	nice -n 10 $(BIN)/mutmut run --max-children 2 || true
	$(BIN)/python scripts/mutation_score.py

openapi: install ## Regenerate openapi/openapi.json from the app
	$(BIN)/python scripts/export_openapi.py

lock: install ## Resolve pyproject.toml changes into uv.lock (other pins kept), then export requirements/*.lock
	$(BIN)/uv lock
	$(MAKE) lock-export

lock-upgrade: install ## The scheduled refresh: every dependency to its newest release within pyproject's bounds
	$(BIN)/uv lock --upgrade
	$(MAKE) lock-export

lock-export: ## uv.lock -> the pip lock files with hashes: runtime (production image), emulator image, dev/CI
	$(UV_EXPORT) -o requirements/runtime.lock
	$(UV_EXPORT) --extra emulator -o requirements/emulator.lock
	$(UV_EXPORT) --extra dev --extra emulator -o requirements/dev.lock

compose-check: ## Validate docker-compose.yml (needs docker-compose)
	docker-compose -f docker-compose.yml config -q && echo "docker-compose.yml is valid"

bench: install ## Fleet benchmark (500 VMs by default), then the webhook benchmark
	$(BIN)/python benchmarks/fleet.py
	$(BIN)/python benchmarks/webhooks.py

bench-campaign: install ## Campaign benchmark: 200 VMs home in 4 waves under ARM's throttle, measured vs ideal (CAMPAIGN_ARGS=...)
	$(BIN)/python benchmarks/campaign.py $(CAMPAIGN_ARGS)

bench-read: install ## Read-path benchmark: 1M jobs in Postgres, the API against a bare FastAPI app under wrk (BENCH_READ_ARGS=--reuse)
	$(BIN)/python benchmarks/read_path.py $(BENCH_READ_ARGS)

clean:
	rm -rf var .pytest_cache .mypy_cache .ruff_cache mutants
