"""Text analysis: cleaning, BM25 terms (analyzer), the script of a question.

The bottom layer: imports nothing else of retrieval."""
