"""Reading a question: what it asks besides its topic (a time, "latest", an overview) and follow-ups.

May import retrieval.text and retrieval.dates."""
