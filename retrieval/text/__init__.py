"""Text analysis: cleaning, sentences and passages, BM25 terms, the script of a question.

Imports nothing else of retrieval (it is the bottom layer)."""
