"""Dates in text: time expressions found and resolved, and when each passage's events happened.

May import retrieval.text and retrieval.cache."""
