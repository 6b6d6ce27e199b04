"""A damaged, foreign, locked, read-only or vanishing cache: never fatal, and after the repair the
answers are those of a fresh cache. Every case runs a real model, the small one (the answers are
compared with a fresh cache's of the same model), and the real index."""

from __future__ import annotations

import json
import logging
import os
import shutil
import sqlite3
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import retrieval.cache
from retrieval.cache import CACHE_FILE
from retrieval.corpus import load_corpus
from retrieval.model.embeddings import Encoder
from retrieval.model.packages import MINILM
from retrieval.pipeline import Retriever

pytestmark = pytest.mark.timeout(120)

ROOT = Path(__file__).resolve().parent.parent
SEEDS = ROOT / "seeds"
CHESS = "Who won the world chess championship?"
QUESTIONS = [
    "Who did Tokayev order to arrest?",
    "Where did the riots over LPG prices begin?",
    "How many Russian soldiers arrived?",
    "When was Masimov arrested?",
    "What happened last Wednesday?",
    "Who exchanged jibes with Lavrov?",
    "What is the capital of France?",
    "latest news about Nazarbayev",
]


@pytest.fixture(scope="module")
def model(small_model):
    """The small model: these tests check the cache's repair against a fresh cache's answers."""
    return small_model


def build(model, config, cache: Path | None) -> tuple[Retriever, Encoder]:
    encoder = Encoder(model, model.name, cache)
    return Retriever.over_articles(load_corpus(SEEDS), config.retrieval, encoder), encoder


def answers(retriever: Retriever) -> list[tuple]:
    """What a user sees of each answer, scores rounded to what float32 vectors keep."""
    return [
        (
            a.answered,
            [(h.passage.text, h.highlight, round(h.score, 4)) for h in a.hits],
            a.when and a.when.text,
            a.notes,
        )
        for a in map(retriever.ask, QUESTIONS)
    ]


@pytest.fixture(scope="module")
def fresh(model, config, tmp_path_factory) -> tuple[Path, list[tuple], int]:
    """A cache built from nothing: (its folder, the answers, how many texts it holds)."""
    cache = tmp_path_factory.mktemp("fresh-cache")
    retriever, encoder = build(model, config, cache)
    return cache, answers(retriever), encoder.paragraphs.embedded_count


@pytest.fixture
def cache(fresh, tmp_path) -> Path:
    """A private copy of the fresh cache to damage."""
    target = tmp_path / "cache"
    shutil.copytree(fresh[0], target)
    return target


def warnings_of(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def rebuilt_like_fresh(model, config, cache: Path, fresh, caplog, *, embedded: int) -> None:
    """Builds over the damaged cache: no exception, the fresh answers, `embedded` texts embedded;
    then a second build embeds nothing: the repaired cache works."""
    with caplog.at_level(logging.WARNING):
        retriever, encoder = build(model, config, cache)
    assert encoder.paragraphs.embedded_count == embedded
    assert answers(retriever) == fresh[1]
    again, encoder = build(model, config, cache)
    assert encoder.paragraphs.embedded_count == 0
    assert answers(again) == fresh[1]


# --- damaged files: moved aside, rebuilt --------------------------------------------------------


def garbage(path: Path) -> None:
    path.write_bytes(os.urandom(path.stat().st_size))


def truncated(path: Path) -> None:
    with path.open("r+b") as file:
        file.truncate(path.stat().st_size // 2)


def half_overwritten(path: Path) -> None:
    size = path.stat().st_size
    with path.open("r+b") as file:
        file.seek(size // 3)
        file.write(b"\xa5" * (size // 3))


def other_layout(path: Path) -> None:
    path.unlink()
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE paragraph_embeddings (key TEXT PRIMARY KEY, data BLOB)")
        db.execute("INSERT INTO paragraph_embeddings VALUES ('a', x'00')")


def text_file(path: Path) -> None:
    path.write_text("this is not a database\n" * 100)


def empty_file(path: Path) -> None:
    path.write_bytes(b"")


@pytest.mark.parametrize(
    "damage",
    [garbage, truncated, half_overwritten, other_layout, text_file],
    ids=lambda f: f.__name__,
)
def test_a_damaged_file_is_moved_aside_and_rebuilt(model, config, cache, fresh, caplog, damage):
    path = cache / CACHE_FILE
    damage(path)
    before = path.read_bytes()
    rebuilt_like_fresh(model, config, cache, fresh, caplog, embedded=fresh[2])
    moved = [w for w in warnings_of(caplog) if "damaged" in w]
    assert len(moved) == 1 and f"moved it to {path}.damaged" in moved[0], warnings_of(caplog)
    assert (cache / f"{CACHE_FILE}.damaged").read_bytes() == before  # kept for a look, unchanged


def test_an_empty_file_is_an_empty_cache(model, config, cache, fresh, caplog):
    empty_file(cache / CACHE_FILE)
    rebuilt_like_fresh(model, config, cache, fresh, caplog, embedded=fresh[2])
    assert warnings_of(caplog) == []


# --- bad rows: embedded again, overwritten ------------------------------------------------------


COLUMNS = "sentences, counts, means, piece_ids, piece_sentence, codes, scales"


def corrupt_rows(path: Path, count: int, change: Callable[[tuple], tuple]) -> None:
    """Rewrites the first `count` paragraph rows: change(sentences, counts, means, piece_ids,
    piece_sentence, codes, scales) gives the new values."""
    with sqlite3.connect(path) as db:
        rows = db.execute(
            f"SELECT rowid, {COLUMNS} FROM paragraph_embeddings ORDER BY rowid LIMIT ?", (count,)
        ).fetchall()
        assert len(rows) == min(
            count, db.execute("SELECT count(*) FROM paragraph_embeddings").fetchone()[0]
        )
        sets = ", ".join(f"{c} = ?" for c in COLUMNS.split(", "))
        for rowid, *values in rows:
            db.execute(
                f"UPDATE paragraph_embeddings SET {sets} WHERE rowid = ?",
                (*change(tuple(values)), rowid),
            )


def nan_means(v: tuple) -> tuple:
    return (v[0], v[1], np.full(len(v[2]) // 2, np.nan, np.float16).tobytes(), *v[3:])


BAD_ROWS = {
    "short means": lambda v: (v[0], v[1], v[2][:100], *v[3:]),
    "zero-length means": lambda v: (v[0], v[1], b"", *v[3:]),
    "NaN means": nan_means,
    "bad sentence JSON": lambda v: ('["unclosed', *v[1:]),
    "sentences not a list": lambda v: ('{"a": 1}', *v[1:]),
    "token vectors cut": lambda v: (*v[:5], v[5][:-4], v[6]),
    "pieces of sentences not there": lambda v: (
        *v[:4],
        np.full(len(v[4]) // 4, 999, np.int32).tobytes(),
        *v[5:],
    ),
    "text where bytes belong": lambda v: (v[0], v[1], v[2].hex(), *v[3:]),
}


@pytest.mark.parametrize("change", BAD_ROWS.values(), ids=BAD_ROWS.keys())
def test_bad_rows_are_embedded_again(model, config, cache, fresh, caplog, change):
    corrupt_rows(cache / CACHE_FILE, 2, change)
    rebuilt_like_fresh(model, config, cache, fresh, caplog, embedded=2)
    assert any(
        "2 cached paragraph embedding(s)" in w and "unusable" in w for w in warnings_of(caplog)
    )


def test_nan_rows_no_longer_refuse_questions(model, config, cache, fresh, caplog):
    """Issue 11: NaN vectors in every row once made 18 of 20 questions refused, silently."""
    corrupt_rows(cache / CACHE_FILE, 10_000, nan_means)
    rebuilt_like_fresh(model, config, cache, fresh, caplog, embedded=fresh[2])


@pytest.mark.parametrize(
    "expressions",
    ['[{"text": "x"', "42", '[{"text": "Sunday", "start": 0, "end": 6, "value": "2022-13-40"}]',
     '[{"text": "Sunday", "start": "a", "end": 6, "value": "2022-01-02"}]',
     '[{"text": "Sunday", "start": 0, "end": 999, "value": "2022-01-02"}]'],
)  # fmt: skip
def test_bad_time_expression_rows_are_resolved_again(
    model, config, cache, fresh, caplog, expressions
):
    with sqlite3.connect(cache / CACHE_FILE) as db:
        changed = db.execute(
            "UPDATE time_expressions SET expressions = ? WHERE expressions != '[]'", (expressions,)
        ).rowcount
    assert changed > 3
    with caplog.at_level(logging.WARNING):
        retriever, _ = build(model, config, cache)
    assert retriever.event_dates.resolved_count == changed
    assert answers(retriever) == fresh[1]
    assert any(f"{changed} cached time expression row(s)" in w for w in warnings_of(caplog))
    assert build(model, config, cache)[0].event_dates.resolved_count == 0


# --- what cannot be used: go on without it ------------------------------------------------------


def test_a_folder_where_the_file_should_be(model, config, tmp_path, fresh, caplog):
    (tmp_path / CACHE_FILE).mkdir()
    with caplog.at_level(logging.WARNING):
        retriever, encoder = build(model, config, tmp_path)
    assert encoder.paragraphs.embedded_count == fresh[2] and answers(retriever) == fresh[1]
    assert any("is not a file, so it cannot be the cache" in w for w in warnings_of(caplog))
    assert (tmp_path / CACHE_FILE).is_dir()  # a folder of the user's is left alone


def test_a_file_where_the_folder_should_be(model, config, tmp_path, fresh, caplog):
    (tmp_path / "cache").write_text("my notes")
    with caplog.at_level(logging.WARNING):
        retriever, _ = build(model, config, tmp_path / "cache")
    assert answers(retriever) == fresh[1]
    assert any("cannot make the cache folder" in w for w in warnings_of(caplog))
    assert (tmp_path / "cache").read_text() == "my notes"


@pytest.mark.timeout(60)
def test_a_lock_held_by_another_process_is_waited_for_then_done_without(
    model, config, cache, fresh, caplog, monkeypatch
):
    monkeypatch.setattr(retrieval.cache, "BUSY_TIMEOUT", 1.0)
    holder = subprocess.Popen(
        [sys.executable, "-c",
         "import sqlite3, sys, time\n"
         f"db = sqlite3.connect({str(cache / CACHE_FILE)!r}, isolation_level=None)\n"
         "db.execute('BEGIN EXCLUSIVE')\nprint('locked', flush=True)\ntime.sleep(50)\n"],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout.readline().strip() == "locked"
        started = time.monotonic()
        with caplog.at_level(logging.WARNING):
            retriever, encoder = build(model, config, cache)
        assert time.monotonic() - started >= 1.0  # it did wait
        assert encoder.paragraphs.embedded_count == fresh[2]
        assert answers(retriever) == fresh[1]
        assert any("locked by another process" in w for w in warnings_of(caplog))
    finally:
        holder.kill()
        holder.wait(10)
    assert (
        build(model, config, cache)[1].paragraphs.embedded_count == 0
    )  # the cache itself is intact


def test_the_file_deleted_during_a_build_is_written_again(model, config, tmp_path, fresh):
    folder = tmp_path / "cache"
    encoder = Encoder(model, model.name, folder)
    assert encoder.paragraphs.missing(["Anything."])  # the store has opened the file
    shutil.rmtree(folder)  # gone, folder and all, before anything is stored
    retriever = Retriever.over_articles(load_corpus(SEEDS), config.retrieval, encoder)
    assert answers(retriever) == fresh[1]
    assert (folder / CACHE_FILE).is_file()
    assert build(model, config, folder)[1].paragraphs.embedded_count == 0


READ_ONLY_CHECK = """
import json, sys
from pathlib import Path
from bot.config import load_config
from tests.test_cache_damage import answers, build
from retrieval.model.embeddings import load_model
retriever, encoder = build(load_model(sys.argv[2]), load_config(), Path(sys.argv[1]))
print(json.dumps({"embedded": encoder.paragraphs.embedded_count, "answers": answers(retriever)}))
"""


# Root writes through any permission bits; without these capabilities it is held to them.
_CAPS = "-dac_override,-dac_read_search,-fowner"
WITHOUT_ROOTS_POWERS = (
    ["setpriv", "--bounding-set", _CAPS, "--inh-caps", _CAPS] if os.geteuid() == 0 else []
)


def test_a_read_only_cache_is_read_and_never_written(fresh):
    """As a user who may not write there (as root: without the power to ignore permissions)."""
    shared = Path(tempfile.mkdtemp(prefix="newsbot-ro-"))
    try:
        shared.chmod(0o755)
        folder = shared / "cache"
        shutil.copytree(fresh[0], folder)
        with sqlite3.connect(folder / CACHE_FILE) as db:  # paragraphs to embed, none to store
            db.execute(
                "DELETE FROM paragraph_embeddings"
                " WHERE rowid IN (SELECT rowid FROM paragraph_embeddings LIMIT 2)"
            )
            db.execute(
                "DELETE FROM time_expressions WHERE rowid IN (SELECT rowid FROM time_expressions LIMIT 2)"
            )
        before = (folder / CACHE_FILE).read_bytes()
        (folder / CACHE_FILE).chmod(0o444)
        folder.chmod(0o555)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "HOME": str(shared)}
        proc = subprocess.run(
            [*WITHOUT_ROOTS_POWERS, sys.executable, "-c", READ_ONLY_CHECK, str(folder), MINILM],
            cwd=ROOT, capture_output=True, text=True, timeout=120, env=env,
        )  # fmt: skip
        assert proc.returncode == 0, proc.stderr
        result = json.loads(proc.stdout)
        assert result["embedded"] == 2
        assert _tuples(result["answers"]) == _tuples(fresh[1])
        assert (folder / CACHE_FILE).read_bytes() == before
        assert sorted(p.name for p in folder.iterdir()) == [CACHE_FILE]
        assert "Traceback" not in proc.stderr
    finally:
        for path in (shared, *shared.rglob("*")):
            if path.is_dir():
                path.chmod(stat.S_IRWXU)
        shutil.rmtree(shared)


def _tuples(value):
    """JSON turns tuples into lists; compare both as nested lists."""
    if isinstance(value, list | tuple):
        return [_tuples(v) for v in value]
    return value


def test_four_processes_on_one_damaged_cache_agree(tmp_path):
    """Each finds the damage; one moves it aside, none moves another's new cache away."""
    folder, seeds = tmp_path / "cache", tmp_path / "seeds"
    folder.mkdir()
    seeds.mkdir()
    (folder / CACHE_FILE).write_bytes(os.urandom(200_000))
    (seeds / "chess.txt").write_text(  # short: four processes embed it at once on two cores
        "date 2023-04-30 Ding Liren becomes world chess champion\n\n"
        "Ding Liren of China won the world chess championship on Sunday. He beat Ian "
        "Nepomniachtchi of Russia in a rapid tie-break.\n"
    )
    config = tmp_path / "bot.yaml"
    config.write_text(
        f"corpus:\n  seeds_dir: {seeds}\n  cache_dir: {folder}\nretrieval:\n  model: {MINILM}\n"
    )
    env = {**os.environ, "HF_HUB_OFFLINE": "1"}
    procs = [
        subprocess.Popen(
            [sys.executable, "-m", "bot", "ask", "--json", "--config", str(config), CHESS],
            cwd=ROOT,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env=env,
        )  # fmt: skip
        for _ in range(4)
    ]
    results = [proc.communicate(timeout=100) for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 4, results
    assert len({out for out, _ in results}) == 1 and json.loads(results[0][0])["answered"]
    assert not any("Traceback" in err for _, err in results)
    assert sorted(p.name for p in folder.iterdir()) == [
        CACHE_FILE,
        f"{CACHE_FILE}.damaged",
        "index",
    ]
    with sqlite3.connect(folder / CACHE_FILE) as db:
        assert db.execute("PRAGMA quick_check").fetchone() == ("ok",)
        assert db.execute("SELECT count(*) FROM paragraph_embeddings").fetchone()[0] == 1
