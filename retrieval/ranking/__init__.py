"""Ranking passages for a question, one module a step of retrieval.pipeline.Retriever.ask:
query (analyzer and embedding), candidates (BM25, nearest sentences, dates), scoring (the one
place a passage's score is put together, with fusion), order (no-answer, dates, distinct,
newest first), highlight, and the overview and timeline; indexed holds what they all read.

May import retrieval.text, retrieval.dates, retrieval.model, retrieval.question,
retrieval.settings, retrieval.corpus and retrieval.index.search (never index.local, nor
retrieval.pipeline)."""
