"""`newsbot index` as a user runs it: other configurations' index folders, removing them
safely (--prune), and a disk that fills while indexing. Real subprocesses, the real small model
(all-MiniLM-L6-v2: these tests check the index files and the messages, not answer quality) but
where a file must be large."""

from __future__ import annotations

import re
import resource
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from retrieval.model.packages import MINILM
from tests.test_cli import ROOT, run_bot

CHESS = (
    "date 2023-04-30 Ding Liren becomes world chess champion\n\n"
    "Ding Liren of China won the world chess championship on Sunday.\n"
)
HOLD_BUILD_LOCK = """
import fcntl, sys, time
handle = open(sys.argv[1], "a+")
fcntl.flock(handle, fcntl.LOCK_EX)
print("locked", flush=True)
time.sleep(600)
"""


@pytest.fixture
def project(tmp_path) -> tuple[Path, Path]:
    """A config of its own (seeds copied, cache in tmp) and its index root."""
    seeds = tmp_path / "seeds"
    shutil.copytree(ROOT / "seeds", seeds)
    config = tmp_path / "bot.yaml"
    config.write_text(
        f"retrieval:\n  model: {MINILM}\ncorpus:\n  seeds_dir: {seeds}\n"
        f"  cache_dir: {tmp_path / 'cache'}\n"
    )
    return config, tmp_path / "cache" / "index"


def other_folder(root: Path, name: str, size: int = 2**20) -> Path:
    folder = root / name / "g-1"
    folder.mkdir(parents=True)
    (folder / "vectors.npy").write_bytes(b"\0" * size)
    return folder.parent


def test_other_index_folders_and_pruning_them(project, tmp_path):
    config, root = project
    first = run_bot("index", "--config", str(config))
    assert first.returncode == 0, first.stderr
    assert "other index folder" not in first.stdout
    other_folder(root, "0000old")
    one = run_bot("index", "--config", str(config))
    assert one.returncode == 0, one.stderr
    # It said "1 other index folder ... belong": one folder belongs.
    assert re.search(
        rf"1 other index folder in {re.escape(str(root))} \(1 MiB\) belongs to other", one.stdout
    ), one.stdout
    assert "`python -m bot index --prune` removes those no running bot uses" in one.stdout

    # A running bot (a console chat of other passage settings) and a build in progress.
    chat_config = tmp_path / "chat.yaml"
    chat_config.write_text(
        config.read_text().replace("retrieval:\n", "retrieval:\n  max_sentences: 2\n")
    )
    chat = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--config", str(chat_config)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
        text=True,
    )  # fmt: skip
    building = other_folder(root, "1111building")
    builder = subprocess.Popen(
        [sys.executable, "-c", HOLD_BUILD_LOCK, str(building / "build.lock")],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert chat.stdout.readline().startswith("Ready: ")  # its index is open
        assert builder.stdout.readline() == "locked\n"
        ours = {f.name for f in root.iterdir()} - {"0000old", "1111building"}
        assert len(ours) == 2  # this config's index and the chat's
        pruned = run_bot("index", "--prune", "--config", str(config))
        assert pruned.returncode == 0, pruned.stderr
        lines = pruned.stdout.splitlines()
        assert f"Removed 1 other index folder (1 MiB) from {root}." in lines
        kept = next(line for line in lines if line.startswith("Kept 2 in use"))
        assert "1111building" in kept
        assert {f.name for f in root.iterdir()} == ours | {"1111building"}
    finally:
        chat.stdin.close()
        chat.wait(timeout=60)
        builder.kill()
        builder.wait()
    # Nobody uses them now: both go.
    pruned = run_bot("index", "--prune", "--config", str(config))
    assert re.search(rf"^Removed 2 other index folders \(\d+ MiB\) from {re.escape(str(root))}\.$",
                     pruned.stdout, re.M), pruned.stdout  # fmt: skip
    assert len(list(root.iterdir())) == 1


def _small_files() -> None:
    """Files of this process may not grow past 20 kB: write() then fails with EFBIG, as it
    fails with ENOSPC on a full disk."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (20_000, 20_000))


def test_a_full_disk_while_indexing_is_an_indexing_problem(project):
    """Not 'cannot write the output', nor a cache setting's fault: one line, exit 1, and
    the index built before stays the one in use."""
    config, root = project
    assert run_bot("index", "--config", str(config)).returncode == 0
    (key,) = root.iterdir()
    before = (key / "current").read_text()
    seeds = config.parent / "seeds"
    (seeds / "chess.txt").write_text(CHESS, encoding="utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "bot", "index", "--config", str(config)],
        cwd=ROOT, capture_output=True, text=True, timeout=300, preexec_fn=_small_files,
    )  # fmt: skip
    assert result.returncode == 1
    assert result.stdout == ""
    last = result.stderr.splitlines()[-1]
    assert last.startswith(f"newsbot: error: cannot write the index in {key}")
    assert last.endswith("(file too large); any index built before is kept")
    assert "Traceback" not in result.stderr
    assert (key / "current").read_text() == before
    assert run_bot("ask", "--config", str(config), "Who won the chess title?").returncode == 0


def test_a_full_disk_during_a_reload_keeps_the_chat_going(project):
    """/reload in the console while the disk is full: one line, the articles loaded before
    answer on (the OSError ended the chat as 'cannot write the output')."""
    config, _ = project
    config.write_text(config.read_text() + "  watch: false\nchat:\n  history_file: null\n")
    assert run_bot("index", "--config", str(config)).returncode == 0
    chat = subprocess.Popen(
        [sys.executable, "-m", "bot", "chat", "--config", str(config)],
        cwd=ROOT, stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, preexec_fn=_small_files,
    )  # fmt: skip
    assert chat.stdout.readline().startswith("Ready: ")
    (config.parent / "seeds" / "chess.txt").write_text(CHESS, encoding="utf-8")
    out, err = chat.communicate("/reload\nWho was arrested?\n/quit\n", timeout=300)
    assert chat.returncode == 0, err
    assert "Not reloaded: cannot write the index in " in out
    assert "(file too large); the articles loaded before stay." in out
    assert "Karim Masimov" in out.split("Not reloaded")[1]
    assert "Traceback" not in err


def test_verify_reads_what_the_check_at_start_only_samples(tmp_path):
    """A flipped byte in a large mapped file, where the sampled check at every start does not
    read: `index` opens it as it is; `index --verify` reads it whole and says so, exit 1."""
    from retrieval.index.layout import FULL_CHECK_BYTES, SAMPLE_BYTES, SAMPLES, TOKENS

    seeds = tmp_path / "seeds"
    seeds.mkdir()
    # Enough words for a token file past the whole-file check: the bundled article's body under
    # fifteen dates, each made its own by a last paragraph (copies would be skipped).
    body = (ROOT / "seeds" / "000_bf7e3f6dcec9099b.txt").read_text(encoding="utf-8")
    body = body.split("\n", 1)[1].strip()
    for n in range(15):
        text = f"date 2022-01-{n + 10} Report {n}\n\n{body}\n\nThis is report number {n}.\n"
        (seeds / f"report-{n}.txt").write_text(text, encoding="utf-8")
    config = tmp_path / "bot.yaml"  # the default model: its token file is large enough
    config.write_text(f"corpus:\n  seeds_dir: {seeds}\n  cache_dir: {tmp_path / 'cache'}\n")
    first = run_bot("index", "--verify", "--config", str(config), timeout=600)
    assert first.returncode == 0, first.stderr
    assert re.search(r"^Index verified: \d+ files, [\d.]+ MiB$", first.stdout, re.M), first.stdout
    (generation,) = (tmp_path / "cache" / "index").glob("*/g-*")
    tokens = generation / TOKENS
    last = tokens.stat().st_size - SAMPLE_BYTES
    at = last // (SAMPLES - 1) // 2  # between the first two sampled blocks
    assert tokens.stat().st_size > FULL_CHECK_BYTES, "too small a file: read whole at start"
    assert SAMPLE_BYTES < at < last // (SAMPLES - 1)
    with tokens.open("r+b") as file:
        file.seek(at)
        byte = file.read(1)
        file.seek(at)
        file.write(bytes([byte[0] ^ 0xFF]))
    assert run_bot("index", "--config", str(config)).returncode == 0  # the sample misses it
    checked = run_bot("index", "--verify", "--config", str(config))
    assert checked.returncode == 1
    (line,) = checked.stderr.splitlines()
    assert line == (
        f"newsbot: index damaged: {generation}: {TOKENS}: its bytes differ from those written"
    )
