"""Dates in text: time expressions found and resolved, and when each passage's events happened.

timex is the way in (find_time_expressions, question_time); patterns holds the grammar, resolvers
one function per kind of expression, reading what they share, period the values handed out;
event_dates keeps each passage's expressions in the cache.

May import retrieval.text and retrieval.cache."""
