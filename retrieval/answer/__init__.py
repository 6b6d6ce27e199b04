"""Reading the answer out of the passages: the type of value a question asks for, that value in the best sentence, and whether the passages hold it at all.

May import retrieval.text, retrieval.dates and retrieval.question; never bot (nor the pipeline, which calls it)."""
