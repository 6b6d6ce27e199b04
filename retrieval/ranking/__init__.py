"""Ranking passages for a question: fusing BM25 and embeddings into one score.

May import retrieval.text, retrieval.dates and retrieval.index.search."""
