"""Topic matching measured as retrieval: the precision and recall of the pushes /follow makes.

On reuters-dev (data/reuters/1000) the newest 100 stories are held back; 30 topics are written
from their titles, and the stories each topic is about were labelled by hand (LABELS below).
One chat follows the 30 topics (bot.follow.store, as /follow does); the other 900 stories are
indexed from a seeds folder by a LiveRetriever, then the held-back stories are written into
that folder one at a time, oldest first, each followed by a reload and the pushes it makes
(bot.follow.pushes.find_pushes: the live-update path the watcher, /reload and uploads take).
Reported: pushes made, precision and recall over (topic, story) pairs, and the misses and
false pushes.

--one-index: quicker and not what a bot sees: one index of all 1,000 stories, each held-back
story matched within it (term statistics that already count the later stories).

Nothing here is a test; `python scripts/follow_quality.py [--one-index]`.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.config import load_config  # noqa: E402
from bot.follow.pushes import find_pushes, news_sources  # noqa: E402
from bot.follow.store import FollowStore  # noqa: E402
from retrieval.corpus import Article, load_corpus  # noqa: E402
from retrieval.follow import article_passages, match  # noqa: E402
from retrieval.live import LiveRetriever  # noqa: E402
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder, load_model  # noqa: E402
from retrieval.pipeline import Retriever  # noqa: E402
from retrieval.settings import RetrievalSettings  # noqa: E402

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


def _one_index(
    base: list[Article], held: list[Article], settings: RetrievalSettings, encoder: Encoder
) -> dict[str, set[str]]:
    retriever = Retriever.over_articles([*base, *held], settings, encoder)
    return {story.source[:5]: _match_all(retriever, story) for story in held}


def _live(
    reuters: Path, base: list[Article], held: list[Article], settings: RetrievalSettings,
    encoder: Encoder,
) -> dict[str, set[str]]:  # fmt: skip
    """The pushes each held-back story makes when it arrives in a followed bot's seeds folder."""
    pushed: dict[str, set[str]] = {}
    with tempfile.TemporaryDirectory(prefix="follow-quality-") as tmp:
        seeds = Path(tmp) / "seeds"
        seeds.mkdir()
        for story in base:
            shutil.copy(reuters / story.source, seeds / story.source)
        live = LiveRetriever(seeds, settings, encoder, index_root=Path(tmp) / "index")
        store = FollowStore(Path(tmp) / "follows.sqlite3")
        for topic in LABELS:
            store.follow(1, topic, len(LABELS))
        for story in held:
            shutil.copy(reuters / story.source, seeds / story.source)
            report = live.reload()
            pushes = find_pushes(store, live.current, news_sources(report))
            pushed[story.source[:5]] = {p.topic for p in pushes}
        store.close()
        live.stop()
    return pushed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuters", type=Path, default=ROOT / "data" / "reuters" / "1000")
    parser.add_argument("--one-index", action="store_true")
    args = parser.parse_args(argv)
    config = load_config()
    encoder = Encoder(load_model(None), DEFAULT_MODEL, config.resolve(config.corpus.cache_dir))
    base, held = _held_back(load_corpus(args.reuters))
    started = time.monotonic()
    if args.one_index:  # story prefix -> topics pushed
        pushed = _one_index(base, held, config.retrieval, encoder)
    else:
        pushed = _live(args.reuters, base, held, config.retrieval, encoder)
    truth = {(t, s) for t, stories in LABELS.items() for s in stories}
    made = {(t, s) for s, topics in pushed.items() for t in topics}
    hits = truth & made
    precision = len(hits) / len(made) if made else 1.0
    recall = len(hits) / len(truth)
    mode = "one index" if args.one_index else "added one at a time"
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
