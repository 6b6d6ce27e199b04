# Both entry points install into .venv first; a second run installs nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: chat test telegram eval bench load lint install

install: $(STAMP)

# torch goes in first, pinned, so that sentence-transformers finds it and never pulls CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

chat: $(STAMP)
	$(PY) -m bot chat

telegram: $(STAMP)
	$(PY) -m bot telegram

test: $(STAMP)
	$(PY) -m pytest

eval: $(STAMP)
	$(PY) -m retrieval.eval

bench: $(STAMP)
	$(PY) scripts/bench.py

load: $(STAMP)
	$(PY) scripts/load.py

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
