"""The passage index: what retrieval asks of storage (search.PassageIndex), the local on-disk index.

May import retrieval.text, retrieval.dates, retrieval.model and retrieval.corpus; never retrieval.pipeline (retrieval.live, above both, keeps an index in step with its folder)."""
