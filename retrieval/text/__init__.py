"""Text analysis: cleaning, BM25 terms (analyzer), the script of a question, the words that
name a country (places) and what a short name stands for (short_forms).

The bottom layer: imports nothing else of retrieval."""
