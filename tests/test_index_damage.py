"""The index checked, not trusted (issue 20): every kind of damage to a generation, its pointer,
its lock or its folder, and files shrinking under a running process. Each case ends in at most
one warning line and the answers of an undamaged index: damage is found and rebuilt, or is
harmless; never a crash, never a silently wrong answer.

The cases run in a worker process (the real small model, all-MiniLM-L6-v2, over tests/data), so
that a segmentation fault or bus error shows as that case failing; the worker goes on with the
rest after one. As root it runs without the power to ignore file permissions, so read-only
folders are read-only to it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import resource
import shutil
import signal
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
DATA = ROOT / "tests" / "data" / "dated"
MODEL = "all-MiniLM-L6-v2"
QUESTIONS = [
    "When was Masimov arrested?",
    "Who did Tokayev order to arrest?",
    "What happened in Iran?",
    "Who won the football match?",
]
_CAPS = "-dac_override,-dac_read_search,-fowner"
WITHOUT_ROOTS_POWERS = (
    ["setpriv", "--bounding-set", _CAPS, "--inh-caps", _CAPS] if os.geteuid() == 0 else []
)

pytestmark = pytest.mark.timeout(300)


# --- the damage ---------------------------------------------------------------------------------


def generation(index: Path) -> Path:
    (found,) = index.glob("*/g-*")
    return found


def flip(name: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        path = generation(index) / name
        data = bytearray(path.read_bytes())
        for at in (len(data) // 2, len(data) * 3 // 4):
            data[at] ^= 0xFF
        path.write_bytes(bytes(data))

    return damage


def truncate(name: str) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        path = generation(index) / name
        os.truncate(path, path.stat().st_size // 2)

    return damage


def replace(name: str, value: object) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        (generation(index) / name).write_text(json.dumps(value))

    return damage


def meta_counting_fewer_tokens(index: Path) -> None:
    """A meta.json that is whole and self-consistent, but counts too few tokens."""
    from retrieval.index import layout

    path = generation(index) / "meta.json"
    meta = json.loads(path.read_text())
    meta["tokens"] -= 5
    meta["checksum"] = layout._meta_digest(meta)
    path.write_text(json.dumps(meta))


def pointer(content: bytes | None) -> Callable[[Path], None]:
    def damage(index: Path) -> None:
        path = generation(index).parent / "current"
        path.unlink()
        if content is None:
            path.mkdir()
            (path / "x").write_text("x")
        else:
            path.write_bytes(content)

    return damage


def lock_folder(index: Path) -> None:
    path = generation(index).parent / "build.lock"
    path.unlink(missing_ok=True)
    path.mkdir()


def lock_read_only(index: Path) -> None:
    path = generation(index).parent / "build.lock"
    path.touch()
    path.chmod(0o444)


def lock_fifo(index: Path) -> None:
    path = generation(index).parent / "build.lock"
    path.unlink(missing_ok=True)
    os.mkfifo(path)


def folder_read_only(index: Path) -> None:
    """Read-only, and without a lock file (a copy of the index made by another user)."""
    (generation(index).parent / "build.lock").unlink()
    generation(index).parent.chmod(0o555)


def index_a_file(index: Path) -> None:
    shutil.rmtree(index)
    index.write_text("not a folder")


def meta_missing(index: Path) -> None:
    (generation(index) / "meta.json").unlink()


FILES = [
    "meta.json", "articles.json", "sentences.json", "dates.json", "vocabulary.json",
    "sentence_token_start.npy", "sentence_counts.npy", "sentence_norms.npy",
    "sentence_scales.npy", "sentence_keys.npy", "passages.npy", "token_scales.npy",
    "token_ids.npy", "piece_df.npy", "sentence_tf_data.npy", "sentence_tf_indices.npy",
    "sentence_tf_indptr.npy", "tokens.i8", "sentence_codes.npy", "ann.usearch",
]  # fmt: skip
DETECTED: dict[str, Callable[[Path], None]] = {
    **{f"flipped {name}": flip(name) for name in FILES},
    **{
        f"truncated {name}": truncate(name)
        for name in ("meta.json", "passages.npy", "tokens.i8", "sentence_codes.npy", "ann.usearch")
    },
    "dates.json = []": replace("dates.json", []),
    'vocabulary.json = {"terms": 5}': replace("vocabulary.json", {"terms": 5}),
    "articles.json an object": replace("articles.json", {"a": 1}),
    "meta.json counting too few tokens": meta_counting_fewer_tokens,
}
# Odd entries: no generation is damaged; the one there is used, with at most a warning.
ODD: dict[str, Callable[[Path], None]] = {
    "current is garbage": pointer(os.urandom(300)),
    "current is empty": pointer(b""),
    "current is a folder": pointer(None),
    "build.lock is a folder": lock_folder,
    "build.lock is read-only": lock_read_only,
    "build.lock is a FIFO": lock_fifo,
    "the index folder is read-only": folder_read_only,
    "index is a file": index_a_file,
    "meta.json missing (an incomplete generation)": meta_missing,
}
SHRUNK = ["tokens.i8", "sentence_codes.npy", "ann.usearch"]
CASES = [*DETECTED, *ODD, *(f"{name} shrinks while the bot runs" for name in SHRUNK),
         "disk full when a seed changed"]  # fmt: skip


# --- the worker: one process for all cases; a crash costs only the case it happened in ----------


class _Warnings(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


def worker() -> None:
    from bot.config import load_config
    from retrieval.index.local import sync_index
    from retrieval.model.embeddings import Encoder, load_model
    from retrieval.pipeline import Retriever

    work, cases = Path(sys.argv[1]), sys.argv[2:]
    settings = load_config().retrieval
    encoder = Encoder(load_model(MODEL), MODEL, work / "cache")
    caught = _Warnings()
    logging.getLogger().addHandler(caught)

    def sync(index_root: Path, seeds: Path = work / "seeds", current=None):  # noqa: ANN001, ANN202
        return sync_index(
            seeds, index_root, encoder.paragraphs, encoder.cache_dir,
            max_sentences=settings.max_sentences, stride=settings.stride, current=current,
        )  # fmt: skip

    def answers(index) -> list:  # noqa: ANN001
        retriever = Retriever(index, settings, encoder)
        return [_answer(retriever.ask(q)) for q in QUESTIONS]

    sync(work / "pristine")
    for case in cases:
        print("START", case, flush=True)
        index_root = work / "cases" / hashlib.sha256(case.encode()).hexdigest()[:12]
        shutil.copytree(work / "pristine", index_root)
        caught.lines.clear()
        result = _run_case(case, index_root, work, sync, answers, caught.lines)
        result["warnings"] = result.get("warnings", list(caught.lines))
        print("RESULT", json.dumps(result), flush=True)


def _answer(answer) -> list:  # noqa: ANN001
    hits = [(h.passage.text, h.highlight, round(h.score, 4)) for h in answer.hits]
    return [answer.answered, hits]


def _run_case(case: str, index_root: Path, work: Path, sync, answers, warned) -> dict:  # noqa: ANN001
    if case.endswith("shrinks while the bot runs"):
        index, _ = sync(index_root)
        before = answers(index)
        os.truncate(generation(index_root) / case.split()[0], 0)
        during = answers(index)  # must not crash: answered from what is safe
        rebuilt, report = sync(index_root, current=index)
        return {"before": before, "during": during, "answers": answers(rebuilt),
                "rebuilt": report.rebuilt, "damaged": index.damaged}  # fmt: skip
    if case == "disk full when a seed changed":
        seeds = work / "seeds-full"
        shutil.copytree(DATA, seeds)
        index, _ = sync(index_root, seeds)
        (seeds / "101_kazakhstan_2022-01-12.txt").unlink()
        soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
        old = signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
        resource.setrlimit(resource.RLIMIT_FSIZE, (1000, hard))  # a write past 1 kB fails
        try:
            index, report = sync(index_root, seeds)
        finally:
            resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
            signal.signal(signal.SIGXFSZ, old)
        return {"answers": answers(index), "problem": report.problem, "articles": report.articles}
    if case != "fresh":
        (DETECTED | ODD)[case](index_root)
    index, first = sync(index_root)
    result = {"answers": answers(index), "rebuilt": first.rebuilt, "warnings": list(warned)}
    warned.clear()
    again, second = sync(index_root)  # as the next start does
    result |= {"again": answers(again), "rebuilt_again": second.rebuilt, "warned_again": warned}
    if index_root.is_dir():
        key = next(index_root.iterdir())
        result["left"] = sorted(p.name for p in key.iterdir() if p.name.startswith("g-"))
    return result


def run_cases(work: Path, cases: list[str]) -> dict[str, dict]:
    """Each case's result; a case during which the worker died gets {"crashed": ...}."""
    results: dict[str, dict] = {}
    todo = list(cases)
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "PYTHONPATH": str(ROOT)}
    while todo:
        proc = subprocess.run(
            [*WITHOUT_ROOTS_POWERS, sys.executable, "-c",
             "from tests.test_index_damage import worker; worker()", str(work), *todo],
            cwd=ROOT, capture_output=True, text=True, timeout=280, env=env,
        )  # fmt: skip
        running = None
        for line in proc.stdout.splitlines():
            if line.startswith("START "):
                running = line[6:]
            elif line.startswith("RESULT ") and running is not None:
                results[running] = json.loads(line[7:]) | {"stderr": ""}
                running = None
        if running is None:
            if proc.returncode:  # died before any case: nothing more will work
                pytest.fail(f"the worker failed: {proc.stderr[-2000:]}")
            break
        results[running] = {"crashed": proc.returncode, "stderr": proc.stderr[-2000:]}
        todo = todo[todo.index(running) + 1 :]
    return results


@pytest.fixture(scope="module")
def outcome(tmp_path_factory) -> dict[str, dict]:
    work = tmp_path_factory.mktemp("damage")
    work.chmod(0o755)
    shutil.copytree(DATA, work / "seeds")
    results = run_cases(work, ["fresh", *CASES])
    for path in (work, *work.rglob("*")):  # let pytest remove what a case made read-only
        if path.is_dir() and not path.is_symlink():
            path.chmod(0o755)
    return results


# --- the checks ---------------------------------------------------------------------------------


def fresh_answers(outcome: dict[str, dict]) -> list:
    return outcome["fresh"]["answers"]


def assert_no_crash(result: dict) -> None:
    assert "crashed" not in result, f"crashed ({result.get('crashed')}): {result['stderr']}"


@pytest.mark.parametrize("case", list(DETECTED))
def test_a_damaged_generation_is_set_aside_and_rebuilt(outcome, case):
    result = outcome[case]
    assert_no_crash(result)
    assert len(result["warnings"]) == 1 and "is damaged" in result["warnings"][0], result
    assert result["rebuilt"] and result["answers"] == fresh_answers(outcome)
    assert not result["rebuilt_again"] and result["again"] == fresh_answers(outcome)
    assert result["warned_again"] == []  # repaired
    assert len(result["left"]) == 1  # the rebuilt one; the damaged one is set aside


@pytest.mark.parametrize("case", list(ODD))
def test_odd_entries_do_not_stop_a_run(outcome, case):
    result = outcome[case]
    assert_no_crash(result)
    assert len(result["warnings"]) <= 1 and len(result["warned_again"]) <= 1, result
    assert result["answers"] == fresh_answers(outcome)
    assert result["again"] == fresh_answers(outcome)
    assert len(result.get("left", ["one"])) == 1  # no orphan generation left behind


@pytest.mark.parametrize("name", SHRUNK)
def test_a_file_that_shrinks_under_a_running_bot_is_not_read(outcome, name):
    result = outcome[f"{name} shrinks while the bot runs"]
    assert_no_crash(result)
    assert result["before"] == fresh_answers(outcome)
    assert len(result["during"]) == len(QUESTIONS) and name in result["damaged"]
    assert sum("shrank" in w for w in result["warnings"]) == 1
    assert result["rebuilt"] and result["answers"] == fresh_answers(outcome)


def test_a_full_disk_keeps_the_complete_generation_in_use(outcome):
    result = outcome["disk full when a seed changed"]
    assert_no_crash(result)
    assert result["answers"] == fresh_answers(outcome) and result["articles"] == 5
    assert "cannot write the index" in result["problem"]
    assert len(result["warnings"]) == 1 and "as it was" in result["warnings"][0]


def test_verify_names_each_damaged_file(tmp_path):
    """verify_index hashes the mapped files whole: a flip anywhere is found."""
    from retrieval.index.check import verify_index

    work = tmp_path / "work"
    work.mkdir()
    shutil.copytree(DATA, work / "seeds")
    run_cases(work, ["fresh"])  # builds work/pristine
    assert verify_index(work / "pristine") == []
    flip("tokens.i8")(work / "pristine")
    (problem,) = verify_index(work / "pristine")
    assert "tokens.i8" in problem and "\n" not in problem
