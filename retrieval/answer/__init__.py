"""Reading the answer out of the passages: the type of value a question asks for, that value
in the best sentence, and whether the passages hold the fact at all.

May import retrieval.text, retrieval.passages, retrieval.dates and retrieval.question; never
ranking, the pipeline (which calls it) or bot."""
