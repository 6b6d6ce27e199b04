"""The passage index: what retrieval asks of storage (search.PassageIndex), the local on-disk index, live updates.

May import retrieval.text, retrieval.dates, retrieval.model and retrieval.corpus; never retrieval.pipeline but for live."""
