"""Retrieval, the library under every front end: articles in, ranked passages with dates out.

Layers, bottom up (tests/test_retrieval.py checks no module imports a layer above its own):
text; corpus, cache; passages, dates, model; question; index, answer; ranking; pipeline; live.
live.py sits on top: what the front ends ask of retrieval (Answering), and a retriever that
follows its seeds folder.
Nothing here imports bot/ or eval/."""

import os

# numpy's matrix products here are small (a question's pieces against one corpus's pieces), and
# OpenBLAS's second thread made one take 24 ms instead of 0.2 ms on the 2-core machine while
# another process was busy (measured). Read when numpy loads, so set before anything imports it.
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
