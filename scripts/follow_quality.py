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

--labels PATH: other topics and labels instead of LABELS, a JSON file
{"topics": [{"topic": "...", "stories": ["19025_south-korea-threatens-emergency-measures.txt"]}]}
(a story by its seed file name or the number it starts with). A labelled story that is not
among the held-back ones cannot be pushed: it is named in one line and left out.

Nothing here is a test; `python scripts/follow_quality.py [--one-index] [--labels PATH]`.
"""

from __future__ import annotations

import argparse
import json
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


class LabelsError(ValueError):
    """A labels file that cannot be read: one line naming the file and what is wrong."""


def read_labels(path: Path) -> dict[str, tuple[str, ...]]:
    """Topic -> its labelled stories, from a JSON file {"topics": [{"topic", "stories"}]}."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise LabelsError(f"{path}: cannot be read as JSON: {exc}") from None
    topics = data.get("topics") if isinstance(data, dict) else None
    if not isinstance(topics, list) or not topics:
        raise LabelsError(f'{path}: expected {{"topics": [...]}} with at least one topic')
    labels: dict[str, tuple[str, ...]] = {}
    for n, entry in enumerate(topics, 1):
        topic = entry.get("topic") if isinstance(entry, dict) else None
        stories = entry.get("stories") if isinstance(entry, dict) else None
        if not isinstance(topic, str) or not topic.strip():
            raise LabelsError(f"{path}: topic {n}: 'topic' must be a non-empty string")
        if not isinstance(stories, list) or not all(isinstance(s, str) for s in stories):
            raise LabelsError(f"{path}: topic {n} {topic!r}: 'stories' must be a list of names")
        if topic in labels:
            raise LabelsError(f"{path}: topic {n} {topic!r} is there twice")
        labels[topic] = tuple(stories)
    return labels


def resolve(
    labels: dict[str, tuple[str, ...]], held: list[Article]
) -> tuple[set[tuple[str, str]], list[tuple[str, str]]]:
    """The labelled (topic, seed file name) pairs among the held-back stories, and those whose
    story is not among them (as labelled). A story is named by its file name or its number."""
    names = {a.source: a.source for a in held} | {a.source.split("_")[0]: a.source for a in held}
    truth: set[tuple[str, str]] = set()
    outside: list[tuple[str, str]] = []
    for topic, stories in labels.items():
        for story in stories:
            source = names.get(story.strip())
            if source is None:
                outside.append((topic, story))
            else:
                truth.add((topic, source))
    return truth, outside


def _held_back(articles: list[Article]) -> tuple[list[Article], list[Article]]:
    ordered = sorted(articles, key=lambda a: (a.date, a.source))
    return ordered[:-HELD_BACK], ordered[-HELD_BACK:]


def _match_all(retriever: Retriever, story: Article, topics: list[str]) -> set[str]:
    passages = article_passages(retriever, story.source)
    return {topic for topic in topics if match(retriever, topic, passages) is not None}


def _one_index(
    base: list[Article], held: list[Article], topics: list[str], settings: RetrievalSettings,
    encoder: Encoder,
) -> dict[str, set[str]]:  # fmt: skip
    retriever = Retriever.over_articles([*base, *held], settings, encoder)
    return {story.source: _match_all(retriever, story, topics) for story in held}


def _live(
    reuters: Path, base: list[Article], held: list[Article], topics: list[str],
    settings: RetrievalSettings, encoder: Encoder,
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
        for topic in topics:
            store.follow(1, topic, len(topics))
        for story in held:
            shutil.copy(reuters / story.source, seeds / story.source)
            report = live.reload()
            pushes = find_pushes(store, live.current, news_sources(report))
            pushed[story.source] = {p.topic for p in pushes}
        store.close()
        live.stop()
    return pushed


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--reuters", type=Path, default=ROOT / "data" / "reuters" / "1000")
    parser.add_argument("--one-index", action="store_true")
    parser.add_argument("--labels", type=Path, help="topics and labels (JSON) instead of LABELS")
    args = parser.parse_args(argv)
    try:
        labels = read_labels(args.labels) if args.labels else LABELS
    except LabelsError as exc:
        parser.error(str(exc))
    config = load_config()
    encoder = Encoder(load_model(None), DEFAULT_MODEL, config.resolve(config.corpus.cache_dir))
    base, held = _held_back(load_corpus(args.reuters))
    truth, outside = resolve(labels, held)
    for topic, story in outside:
        print(f"  not held back, left out: {topic!r} -> {story}")
    started = time.monotonic()
    topics = list(labels)
    if args.one_index:  # story -> topics pushed
        pushed = _one_index(base, held, topics, config.retrieval, encoder)
    else:
        pushed = _live(args.reuters, base, held, topics, config.retrieval, encoder)
    made = {(t, s) for s, pushed_topics in pushed.items() for t in pushed_topics}
    hits = truth & made
    precision = len(hits) / len(made) if made else 1.0
    recall = len(hits) / len(truth) if truth else 1.0
    mode = "one index" if args.one_index else "added one at a time"
    print(f"{len(labels)} topics, {len(held)} stories held back ({mode}), "
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
