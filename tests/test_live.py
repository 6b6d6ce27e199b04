"""A LiveRetriever under a running bot (issue 20): a mapped file shrinking under it is rebuilt
in the background, a reload the disk refuses is one warning line, and a seeds folder swapped
for another is announced. The real default model; the cases that could end in a bus error or
need a file size limit run in a worker process, so that such an end shows as a failure."""

from __future__ import annotations

import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from bot.answer_format import PLAIN
from bot.console import ConsoleChat
from retrieval.live import LiveRetriever
from retrieval.model.embeddings import DEFAULT_MODEL, Encoder
from tests.test_index_damage import DATA, QUESTIONS, _answer, generation

ROOT = Path(__file__).resolve().parent.parent
ICELAND = """date 2023-11-11 Iceland declares emergency as volcano threatens Grindavik

The fishing town of Grindavik, home to about 3,700 people, was evacuated overnight.
"""

pytestmark = pytest.mark.timeout(300)


# --- the worker ---------------------------------------------------------------------------------


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def worker() -> None:
    """python -c '...worker()' CASE WORK: prints one JSON line with what happened."""
    from bot.config import load_config
    from retrieval.model.embeddings import load_model

    case, work = sys.argv[1], Path(sys.argv[2])
    shutil.copytree(DATA, work / "seeds")
    encoder = Encoder(load_model(None), DEFAULT_MODEL, work / "cache")
    bot = LiveRetriever(
        work / "seeds", load_config().retrieval, encoder, index_root=work / "cache" / "index"
    )
    caught = _Records()
    logging.getLogger().addHandler(caught)
    try:
        result = (_shrink if case == "shrink" else _disk_full)(bot, work, caught)
    finally:
        bot.stop()
    print(json.dumps(result), flush=True)


def _answers(bot: LiveRetriever) -> list:
    return [_answer(bot.ask(q)) for q in QUESTIONS]


def _shrink(bot: LiveRetriever, work: Path, caught: _Records) -> dict:
    chat = ConsoleChat(bot, PLAIN, shown=3, snippet_chars=200)
    bot.listeners.append(chat.seeds_reloaded)
    damaged = bot.index
    before = _answers(bot)
    os.truncate(generation(work / "cache" / "index") / "sentence_codes.npy", 0)
    during = _answers(bot)  # answered from what is safe; the rebuild starts meanwhile
    deadline = time.monotonic() + 120
    while bot.index is damaged and time.monotonic() < deadline:
        time.sleep(0.05)
    return {
        "before": before,
        "during": during,
        "after": _answers(bot),
        "rebuilt": bot.index is not damaged and bot.index.damaged is None,
        "warnings": [r.getMessage() for r in caught.records],
        "reply": chat.reply(QUESTIONS[0]).split("\n")[0],
    }


def _disk_full(bot: LiveRetriever, work: Path, caught: _Records) -> dict:
    """The index folder removed under the bot, then a seed added on a full disk: nowhere to
    write an index, not even a temporary folder."""
    before = _answers(bot)
    bot.watch(interval=0.05)
    shutil.rmtree(work / "cache" / "index")
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))  # a write past 1 kB fails
    (work / "seeds" / "105_iceland.txt").write_text(ICELAND, encoding="utf-8")
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and not any(
        "reloading the seeds failed" in r.getMessage() for r in caught.records
    ):
        time.sleep(0.05)
    resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    failed = [r for r in caught.records if "reloading the seeds failed" in r.getMessage()]
    return {
        "failed": [r.getMessage() for r in failed],
        "tracebacks": [r.getMessage() for r in caught.records if r.exc_info],
        "answers": _answers(bot) == before,
        "articles": len(bot.articles),
    }


def run_worker(case: str, work: Path) -> dict:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(
        [sys.executable, "-c", "from tests.test_live import worker; worker()", case, str(work)],
        cwd=ROOT, capture_output=True, text=True, timeout=280, env=env,
    )  # fmt: skip
    assert proc.returncode == 0, f"the worker ended with {proc.returncode}: {proc.stderr[-3000:]}"
    return json.loads(proc.stdout.splitlines()[-1])


# --- the cases ----------------------------------------------------------------------------------


def test_a_file_shrinking_under_a_running_bot_is_rebuilt_while_it_answers(tmp_path):
    result = run_worker("shrink", tmp_path)
    assert len(result["during"]) == len(QUESTIONS)  # no crash, an answer to each
    assert len(result["warnings"]) == 1 and "shrank" in result["warnings"][0], result["warnings"]
    assert result["rebuilt"], "not rebuilt within 120 s"
    assert result["after"] == result["before"]
    assert not result["reply"].startswith("(The articles changed")  # nothing changed


def test_a_reload_the_full_disk_refuses_is_one_warning_line(tmp_path):
    result = run_worker("disk full", tmp_path)
    assert len(result["failed"]) == 1, result
    assert "no space" in result["failed"][0] or "too large" in result["failed"][0], result
    assert result["tracebacks"] == []
    assert result["articles"] == 5 and result["answers"]  # as before, from the index in use


@pytest.fixture
def encoder(model, tmp_path) -> Encoder:
    return Encoder(model, DEFAULT_MODEL, tmp_path / "cache")


def _live(seeds: Path, config, encoder: Encoder) -> LiveRetriever:  # noqa: ANN001
    return LiveRetriever(seeds, config.retrieval, encoder, index_root=encoder.cache_dir / "index")


def _folder_with_iceland(path: Path) -> Path:
    path.mkdir()
    (path / "001_iceland.txt").write_text(ICELAND, encoding="utf-8")
    return path


def test_a_seeds_folder_swapped_for_one_with_its_own_index_is_announced(tmp_path, config, encoder):
    first, second = tmp_path / "first", _folder_with_iceland(tmp_path / "second")
    shutil.copytree(DATA, first)
    _live(second, config, encoder)  # the second folder's index, built before the swap
    link = tmp_path / "seeds"
    link.symlink_to(first)
    bot = _live(link, config, encoder)
    chat = ConsoleChat(bot, PLAIN, shown=3, snippet_chars=200)
    bot.listeners.append(chat.seeds_reloaded)
    bot.watch(interval=0.05)
    try:
        (tmp_path / "new-link").symlink_to(second)
        (tmp_path / "new-link").replace(link)
        deadline = time.monotonic() + 60
        while len(bot.articles) != 1 and time.monotonic() < deadline:
            time.sleep(0.05)
    finally:
        bot.stop()
    reply = chat.reply("Why was Grindavik evacuated?").split("\n")
    assert reply[0] == "(The seeds folder was replaced: 1 article now (was 5))"
    assert not bot.report.rebuilt  # its own index was used as it was


def test_a_seeds_folder_moved_away_and_another_put_in_its_place_is_announced(
    tmp_path, config, encoder
):
    seeds = tmp_path / "seeds"
    shutil.copytree(DATA, seeds)
    bot = _live(seeds, config, encoder)
    chat = ConsoleChat(bot, PLAIN, shown=3, snippet_chars=200)
    bot.listeners.append(chat.seeds_reloaded)
    seeds.rename(tmp_path / "old")
    _folder_with_iceland(tmp_path / "new").rename(seeds)
    assert "the seeds folder was replaced (5 before)" in chat.reply("/reload")
    bot.reload()  # nothing changed since: no note
    assert not chat.reply("Why was Grindavik evacuated?").startswith("(")
