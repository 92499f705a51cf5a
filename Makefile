# Parley: `make run` to start (all set-up included), `make check` for the fast tests, `make test` for every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
# PORT, else STREAMLIT_SERVER_PORT (the form .streamlit/config.toml suggests), else 8501.
PORT   ?= $(or $(STREAMLIT_SERVER_PORT),8501)
# make run listens on this machine only (ADDRESS=0.0.0.0 shares a demo on the network);
# make prod on every interface.
RUN_ADDRESS  = $(or $(ADDRESS),127.0.0.1)
PROD_ADDRESS = $(or $(ADDRESS),0.0.0.0)
# The tiers without a browser run in WORKERS processes (pytest-xdist, a module's tests in one of them);
# then the browser modules, one test at a time. The Docker module runs beside both in a process of
# its own at a lower CPU priority: its build mostly waits, and takes the time the others leave
# (docs/testing.md says why). WORKERS=0: the Docker module with the tiers, one test at a time.
WORKERS  ?= 2
PARALLEL := $(if $(filter 0,$(WORKERS)),,-n $(WORKERS) --dist loadscope)
TIERS    := tests/unit tests/app tests/integration
DOCKER_TESTS := tests/e2e/test_docker.py
# The process `make run` / `make prod` started here, for `make restart`.
PIDFILE := .parley.pid
# Docker: the image's name, its tags (version and commit) and the container's name.
IMAGE     ?= parley
CONTAINER ?= parley
VERSION   := $(shell sed -n 's/^version = "\(.*\)"/\1/p' pyproject.toml | head -n 1)
COMMIT    := $(shell git rev-parse --short HEAD 2>/dev/null || echo unknown)

.DEFAULT_GOAL := help
.PHONY: help boot run restart prod install migrate check test lint user clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-13s %s\n", $$1, $$2}'

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime ## make the virtualenv from requirements.txt

boot: run ## first time on a machine: the venv, .env with a cookie key, the first admin, the database, then serve

# run and prod start Streamlit with FORWARDED_ALLOW_IPS empty: its server (uvicorn) then
# believes no X-Forwarded-For, and PARLEY_TRUSTED_PROXIES is the only rule (chat/accounts/peer.py).
run: $(VENV)/.runtime ## set up what is missing (.env, admin user, database migrations), check, and serve on localhost:8501
	$(PY) -m chat bootstrap --port $(PORT) --address $(RUN_ADDRESS)
	echo $$$$ > $(PIDFILE); export FORWARDED_ALLOW_IPS=; \
	exec $(PY) -m streamlit run app.py --server.port $(PORT) --server.address $(RUN_ADDRESS)

restart: ## stop the Parley that make run/prod started here (replies in flight are saved), then make run
	@pid=$$(cat $(PIDFILE) 2>/dev/null); \
	if [ -n "$$pid" ] && grep -qs streamlit /proc/$$pid/cmdline; then \
		echo "Stopping Parley (pid $$pid)"; kill -TERM $$pid; \
		while kill -0 $$pid 2>/dev/null; do sleep 0.2; done; \
	fi
	$(MAKE) run

prod: $(VENV)/.runtime ## migrate, check (no set-up: .env and users must exist), serve on 0.0.0.0:8501 (ADDRESS, PORT)
	$(PY) -m chat migrate
	$(PY) -m chat bootstrap --check --port $(PORT) --address $(PROD_ADDRESS)
	echo $$$$ > $(PIDFILE); export FORWARDED_ALLOW_IPS=; \
	exec $(PY) -m streamlit run app.py --server.port $(PORT) --server.address $(PROD_ADDRESS) \
		--server.fileWatcherType none --logger.level warning

migrate: $(VENV)/.runtime ## apply pending database migrations (DATABASE_URL), under a lock
	$(PY) -m chat migrate

check: $(VENV)/.dev ## the fast tests to run while working: unit and AppTest flows, SQLite only (under 2 minutes)
	$(PY) -m pytest $(PARALLEL) tests/unit tests/app

# axe-core, the accessibility checker the browser tests inject, pinned by its lock file.
AXE := tests/a11y/node_modules/axe-core/axe.min.js
$(AXE): tests/a11y/package.json tests/a11y/package-lock.json
	npm ci --prefix tests/a11y --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

test: $(VENV)/.dev $(AXE) ## run the whole test suite: unit, AppTest, integration on SQLite and PostgreSQL, browser, Docker
ifeq ($(WORKERS),0)
	@status=0; \
	$(PY) -m pytest $(TIERS) $(DOCKER_TESTS) || status=1; \
	$(PY) -m pytest tests/e2e --ignore=$(DOCKER_TESTS) || status=1; \
	exit $$status
else
	@# Ctrl+C, or a TERM to the process group, reaches every pytest, whose fixtures then stop what they
	@# started (tests/conftest.py: a TERM is an interrupt, once). A TERM to this shell alone reaches the
	@# Docker module once the running phase has ended: a shell runs its traps between commands.
	@status=0; docker_log=$$(mktemp) || exit 1; \
	nice -n 10 $(PY) -m pytest -p no:cacheprovider $(DOCKER_TESTS) > "$$docker_log" 2>&1 & docker=$$!; \
	ended() { wait $$docker; cat "$$docker_log"; rm -f "$$docker_log"; exit $$1; }; \
	trap 'ended 130' INT; trap 'kill -TERM $$docker 2>/dev/null; ended 143' TERM; \
	$(PY) -m pytest $(PARALLEL) $(TIERS) || status=1; \
	$(PY) -m pytest tests/e2e --ignore=$(DOCKER_TESTS) || status=1; \
	echo "== $(DOCKER_TESTS), run beside the above =="; \
	wait $$docker || status=1; cat "$$docker_log"; rm -f "$$docker_log"; \
	exit $$status
endif

lint: $(VENV)/.dev ## ruff (complexity too), mypy strict, import-linter (the layers), file and function lengths, hadolint
	$(PY) -m ruff check .
	$(PY) -m ruff format --check .
	$(PY) -m mypy chat views app.py router.py
	$(VENV)/bin/lint-imports
	$(PY) -m pytest -q -p no:cacheprovider tests/unit/test_code_shape.py
	$(VENV)/bin/hadolint Dockerfile

user: $(VENV)/.runtime ## add a user: make user NAME=alice [ROLE=admin]
	@test -n "$(NAME)" || { echo "usage: make user NAME=alice [ROLE=admin]"; exit 2; }
	$(PY) -m chat users add "$(NAME)" --role "$(or $(ROLE),user)"

.PHONY: backup restore purge

backup: $(VENV)/.runtime ## a consistent copy of the database, taken live, in backups/ (OUTPUT=file to choose)
	$(PY) -m chat backup $(if $(OUTPUT),--output "$(OUTPUT)")

restore: $(VENV)/.runtime ## replace the database with a backup: make restore FILE=backups/parley-....db
	@test -n "$(FILE)" || { echo "usage: make restore FILE=backups/parley-YYYYMMDD-HHMMSS.db (or .dump)"; exit 2; }
	$(PY) -m chat restore "$(FILE)"

purge: $(VENV)/.runtime ## remove conversations past PARLEY_RETENTION_DAYS, deleted ones first (DRY_RUN=1: only say)
	$(PY) -m chat purge $(if $(DRY_RUN),--dry-run)

clean: ## remove the virtualenv, caches and the wheelhouse (keeps .env, auth.yaml and data/)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache .import_linter_cache wheels
	find . -name __pycache__ -type d -prune -exec rm -rf {} +

.PHONY: docker-build docker-run shell

# The wheelhouse the image installs from (the build itself has no network): every pinned
# package as a wheel for this platform (Linux x86_64, CPython 3.11). pip wheel takes a
# published wheel as is and builds one only for a package published as source alone.
# Filled again only when requirements.txt changes.
wheels/.requirements: requirements.txt | $(VENV)/.runtime
	rm -rf wheels
	$(PY) -m pip wheel --quiet --disable-pip-version-check --no-deps -r requirements.txt -w wheels
	cp requirements.txt $@

docker-build: wheels/.requirements ## build the image parley:VERSION, :COMMIT and :latest, offline (BASE=image to change the base)
	docker build --network=none $(if $(BASE),--build-arg BASE=$(BASE)) \
		--build-arg VERSION=$(VERSION) --build-arg COMMIT=$(COMMIT) \
		-t $(IMAGE):$(VERSION) -t $(IMAGE):$(COMMIT) -t $(IMAGE):latest .

docker-run: $(VENV)/.runtime ## run the image in the background on :8501 (.env made if missing; data in the volume parley-data)
	@$(PY) -c 'from pathlib import Path; from chat.ops.bootstrap import ensure_env_file; \
		ensure_env_file(Path(".env"), Path(".env.example")) and print("Wrote .env with a fresh PARLEY_COOKIE_KEY.")'
	docker run -d --name $(CONTAINER) -p $(PORT):8501 --env-file .env -v parley-data:/app/data $(IMAGE):latest
	@echo "Parley starts on http://localhost:$(PORT); 'docker logs $(CONTAINER)' shows a new admin's one-time password."

shell: ## a shell in the running container (make docker-run first)
	docker exec -it $(CONTAINER) sh
