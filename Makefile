# `make run` and `make test` set everything up on a machine with Python 3.11+ and make.
PYTHON ?= python3
VENV ?= .venv
BIN := $(VENV)/bin
DB ?= data/newsbrief.db

.PHONY: run test lint typecheck bench clean

$(BIN)/python:
	@$(PYTHON) -c 'import sys; sys.exit("newsbrief needs Python 3.11+, found " + sys.version.split()[0]) if sys.version_info < (3, 11) else None'
	$(PYTHON) -m venv $(VENV)
	@# pip before 23.3 misreads justext's lxml[html_clean] extra and warns on every install
	$(BIN)/python -m pip install --quiet --disable-pip-version-check pip==24.3.1

$(VENV)/.run-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e .
	@touch $@

$(VENV)/.dev-installed: pyproject.toml | $(BIN)/python
	$(BIN)/python -m pip install --quiet --disable-pip-version-check -e '.[dev]'
	@touch $@ $(VENV)/.run-installed

run: $(VENV)/.run-installed  ## ingest seeds/ and serve the console bot
	@$(BIN)/python -m bot run --db $(DB) seeds/

test: lint typecheck  ## ruff, mypy and the whole pytest suite
	$(BIN)/python -m pytest

lint: $(VENV)/.dev-installed
	$(BIN)/ruff check .
	$(BIN)/ruff format --check .

typecheck: $(VENV)/.dev-installed
	$(BIN)/mypy

bench: $(VENV)/.dev-installed  ## print every benchmark's figures (several minutes)
	@for b in benches/*.py; do \
		case $$b in */__init__.py|*/evaluation.py|*_eval.py|*/synthetic.py|*/bulk_store.py|*_fakes.py) continue;; esac; \
		echo "== $$b"; $(BIN)/python $$b || exit 1; done

clean:
	rm -rf $(VENV) .mypy_cache .ruff_cache .pytest_cache
