"""News in the formats people have, turned into seed files: `newsbot import SOURCE...` (cli)
and the feeds a running bot polls (`corpus.feeds`, poller).

items: one news item (title, date, text, URL), dates in the common forms, HTML to paragraphs;
sources: reading a file or URL as RSS/Atom, JSON Lines, CSV, an HTML page or Reuters SGML;
reuters: the Reuters-21578 SGML files and the archives they come in; fetch: HTTP with a
timeout, a size limit and conditional GET; writer: seed files written atomically, under safe
unique names, duplicates skipped; poller: the feeds of a running bot.
The live-update path (retrieval.live) indexes what is written: nothing here touches the index.
"""

FORMATS = ("rss", "jsonl", "csv", "html", "reuters")  # what `import --format` accepts
