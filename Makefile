# Parley: `make run` to start (all set-up included), `make test` to run every test.
PYTHON ?= python3
VENV   := .venv
PY     := $(VENV)/bin/python
PORT   ?= 8501

.DEFAULT_GOAL := help
.PHONY: help run install test lint user clean

help: ## list the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-10s %s\n", $$1, $$2}'

$(VENV)/.runtime: requirements.txt
	$(PYTHON) -m venv $(VENV)
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements.txt
	touch $@

$(VENV)/.dev: requirements-dev.txt $(VENV)/.runtime
	$(PY) -m pip install --quiet --disable-pip-version-check -r requirements-dev.txt
	touch $@

install: $(VENV)/.runtime ## make the virtualenv from requirements.txt

run: $(VENV)/.runtime ## set up what is missing (.env, admin user, database), check, and serve on :8501
	$(PY) -m chat.bootstrap
	exec $(PY) -m streamlit run app.py --server.port $(PORT)

test: $(VENV)/.dev ## run the whole test suite
	$(PY) -m pytest

lint: $(VENV)/.dev ## ruff and mypy
	$(PY) -m ruff check .
	$(PY) -m mypy chat

user: $(VENV)/.runtime ## add a user: make user NAME=alice [ROLE=admin]
	@test -n "$(NAME)" || { echo "usage: make user NAME=alice [ROLE=admin]"; exit 2; }
	$(PY) -m chat.users add "$(NAME)" --role "$(or $(ROLE),user)"

clean: ## remove the virtualenv and caches (keeps .env, auth.yaml and data/)
	rm -rf $(VENV) .pytest_cache .mypy_cache .ruff_cache
	find . -name __pycache__ -type d -prune -exec rm -rf {} +
