"""Retrieval quality, measured: `python -m eval` (or `make eval`) prints every table.

The question sets are the JSON files beside this package; the library never imports it."""
