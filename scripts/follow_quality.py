"""Topic matching measured as retrieval: the precision and recall of the pushes /follow makes.

On reuters-dev (data/reuters/1000) the newest 100 stories are held back; 30 topics are written
from their titles, and the stories each topic is about were labelled by hand from the titles
(LABELS below). Each held-back story is then matched against every topic exactly as a push is
(retrieval.follow.match: the question's retrieval and no-answer rule restricted to the story's
passages). Reported: pushes made, precision and recall over (topic, story) pairs, and the
topics' misses and false pushes.

--incremental adds the held-back stories one at a time to an index of the other 900 (a reload
each, as the watcher does; slow). Without it one index holds all 1,000 and each story is
matched within it: the same rule, with term statistics that already count the later stories.

Nothing here is a test; `python scripts/follow_quality.py [--incremental]`.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from retrieval.corpus import Article, load_corpus  # noqa: E402
from retrieval.follow import article_passages, match  # noqa: E402
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder, load_model  # noqa: E402
from retrieval.pipeline import Retriever  # noqa: E402

HELD_BACK = 100
# topic -> the held-back stories about it (file name prefixes), labelled by hand from titles.
LABELS: dict[str, tuple[str, ...]] = {
    "Chrysler bid for Electrospace": ("19127", "19181", "19415"),
    "company buying back its own shares": ("19099", "21043", "21185", "20253", "20543"),
    "Soviet wheat subsidy": ("20231",),
    "stock exchange opening delayed or closing early": ("20053", "20587"),
    "crude oil posted prices": ("21267",),
    "energy crisis": ("20869",),
    "Saudi crown prince visit": ("20891",),
    "EC and US trade talks": ("20989",),
    "export controls": ("21031",),
    "sugar beet shortage": ("21321",),
    "hog and cattle slaughter": ("21433",),
    "Reserve Bank of India credit policy": ("21497",),
    "Norway current account deficit": ("21519",),
    "Reagan on interest rates": ("20769",),
    "Southland SEC investigation": ("20811",),
    "Renault debt cancelled": ("20681",),
    "rubber prices": ("20267",),
    "IBM System/36": ("20199",),
    "Nissan car prices": ("20125",),
    "JAL crash": ("19043",),
    "high octane gasoline in Japan": ("19083",),
    "Malaysia tin research": ("19367",),
    "Mexico bank privatisation": ("19405",),
    "condom recalls": ("19479",),
    "miners vote on a contract": ("19431",),
    "EC Commission budget": ("19591",),
    "help for ailing thrifts": ("19733",),
    "Crazy Eddie takeover": ("19683", "21027"),
    "defense contractors write-offs": ("19289",),
    "South Korea emergency measures": ("19025",),
}


def _held_back(articles: list[Article]) -> tuple[list[Article], list[Article]]:
    ordered = sorted(articles, key=lambda a: (a.date, a.source))
    return ordered[:-HELD_BACK], ordered[-HELD_BACK:]


def _match_all(retriever: Retriever, story: Article) -> set[str]:
    passages = article_passages(retriever, story.source)
    return {topic for topic in LABELS if match(retriever, topic, passages) is not None}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuters", type=Path, default=ROOT / "data" / "reuters" / "1000")
    parser.add_argument("--incremental", action="store_true")
    args = parser.parse_args(argv)
    config = load_config()
    encoder = Encoder(load_model(None), DEFAULT_MODEL, config.resolve(config.corpus.cache_dir))
    base, held = _held_back(load_corpus(args.reuters))
    started = time.monotonic()
    pushed: dict[str, set[str]] = {}  # story prefix -> topics pushed
    if args.incremental:
        for n, story in enumerate(held):
            retriever = Retriever.over_articles([*base, *held[: n + 1]], config.retrieval, encoder)
            pushed[story.source[:5]] = _match_all(retriever, story)
    else:
        retriever = Retriever.over_articles([*base, *held], config.retrieval, encoder)
        for story in held:
            pushed[story.source[:5]] = _match_all(retriever, story)
    truth = {(t, s) for t, stories in LABELS.items() for s in stories}
    made = {(t, s) for s, topics in pushed.items() for t in topics}
    hits = truth & made
    precision = len(hits) / len(made) if made else 1.0
    recall = len(hits) / len(truth)
    mode = "one at a time" if args.incremental else "one index"
    print(f"{len(LABELS)} topics, {len(held)} stories held back ({mode}), "
          f"{time.monotonic() - started:.0f} s")  # fmt: skip
    print(f"pushes {len(made)}, right {len(hits)}, labelled {len(truth)}")
    print(f"precision {precision:.3f}  recall {recall:.3f}")
    for topic, story in sorted(truth - made):
        print(f"  missed: {topic!r} -> {story}")
    for topic, story in sorted(made - truth):
        print(f"  false push: {topic!r} -> {story}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
