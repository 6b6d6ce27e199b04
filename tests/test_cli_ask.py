"""`newsbot ask` as a user runs it: answers as questions arrive, the chat's settings, model
names people use, a cache setting that names a file. Real subprocesses and the real model."""

from __future__ import annotations

import json
import select
import subprocess
import sys
from pathlib import Path

import pytest

from tests.test_cli import ROOT, run_bot, usage_error

ARREST = "Who did President Tokayev order to be arrested?"


@pytest.fixture(scope="module")
def cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("ask") / "cache"


def write_config(folder: Path, cache: Path | str, extra: str = "") -> Path:
    path = folder / "bot.yaml"
    path.write_text(
        f"corpus:\n  seeds_dir: {ROOT / 'seeds'}\n  cache_dir: {cache}\n{extra}", encoding="utf-8"
    )
    return path


def read_line(proc: subprocess.Popen, seconds: float = 120) -> bytes:
    """One line of the answers, or a failure if none comes in time (stdin still open)."""
    ready, _, _ = select.select([proc.stdout], [], [], seconds)
    assert ready, "no answer while the input was still open"
    return proc.stdout.readline()


def test_stdin_is_answered_line_by_line_as_it_arrives(cache, tmp_path):
    """A slow producer gets each answer before it writes the next question (the whole input
    was read first, so `yes | newsbot ask -` grew 4.5 MB/s and answered nothing); a line
    longer than a question may be is refused without being held whole."""
    config = write_config(tmp_path, cache)
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "ask", "--json", "--config", str(config), "-"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    proc.stdin.write(f"\n{ARREST}\n".encode())
    proc.stdin.flush()
    assert json.loads(read_line(proc)) == {"question": "", "error": "line 1 is empty: no question"}
    assert json.loads(read_line(proc))["answered"] is True
    for _ in range(200):  # 200 MiB on one line
        proc.stdin.write(b"y" * 2**20)
    proc.stdin.write(b"\nWho is Masimov?\n")
    proc.stdin.flush()
    assert json.loads(read_line(proc)) == {
        "question": "",
        "error": "line 3 is longer than 1,000 characters",
    }
    assert "Masimov" in json.loads(read_line(proc))["passages"][0]["text"]
    # The child's own peak, read while it waits for more input: VmHWM starts again at exec,
    # where rusage's maxrss also counts this test process's pages from before the exec.
    status_lines = Path(f"/proc/{proc.pid}/status").read_text().splitlines()
    peak_kib = int(next(x for x in status_lines if x.startswith("VmHWM:")).split()[1])
    proc.stdin.close()
    assert proc.wait(timeout=60) == 0
    assert proc.stdout.read() == b""
    assert peak_kib < 700_000  # KiB: the model and index (~380 MB), not a 200 MiB line


def test_ask_shows_what_the_chat_settings_say(cache, tmp_path):
    """chat.shown_passages and chat.snippet_chars are the console's and ask's (ask ignored
    them: always 3 passages of 200 characters)."""
    one = write_config(tmp_path, cache, "chat:\n  shown_passages: 1\n")
    result = run_bot("ask", "--json", "--config", str(one), ARREST)
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["passages"]) == 1
    (tmp_path / "short").mkdir()
    short = write_config(
        tmp_path / "short", cache, "chat:\n  shown_passages: 2\n  snippet_chars: 40\n"
    )
    result = run_bot("ask", "--config", str(short), ARREST)
    assert result.returncode == 0, result.stderr
    numbered = [line for line in result.stdout.splitlines() if line[:3] in ("2. ", "3. ")]
    assert len(numbered) == 1 and len(numbered[0]) < 60, result.stdout
    # --top-k still overrides the setting
    result = run_bot("ask", "--json", "--top-k", "2", "--config", str(one), ARREST)
    assert len(json.loads(result.stdout)["passages"]) == 2


@pytest.mark.parametrize("name", ["MiniLM", "all-minilm-l6-v2"])
def test_the_names_people_call_a_model_by(cache, tmp_path, name):
    """`model: MiniLM` said 'not exported; run make onnx ...', and that command failed."""
    config = write_config(tmp_path, cache, f"retrieval:\n  model: {name}\n")
    result = run_bot("ask", "--json", "--config", str(config), ARREST)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["answered"] is True


def test_a_cache_dir_that_is_a_file_means_no_cache_and_one_warning(tmp_path):
    """As the README says: the run goes on without a cache, the file untouched (it stopped
    with the problem said twice)."""
    afile = tmp_path / "a-file"
    afile.write_text("mine\n", encoding="utf-8")
    config = write_config(tmp_path, afile)
    result = run_bot("ask", "--json", "--config", str(config), ARREST)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["answered"] is True
    warnings = [line for line in result.stderr.splitlines() if not line.startswith("Embedd")]
    assert warnings == [
        f"WARNING bot.runtime: {config}: key 'corpus.cache_dir': is a file, not a folder;"
        " going on without a cache"
    ]
    assert afile.read_text(encoding="utf-8") == "mine\n"


def test_a_model_name_that_is_none_lists_the_valid_ones(tmp_path):
    config = tmp_path / "bot.yaml"
    config.write_text("retrieval:\n  model: bert\n", encoding="utf-8")
    line = usage_error("ask", "--config", str(config), "--seeds", str(ROOT / "seeds"), "Who?")
    assert line == (
        f"newsbot: error: {config}: key 'retrieval.model': 'bert' is no model name here: use"
        " all-mpnet-base-v2 (or mpnet, the default), all-MiniLM-L6-v2 (or MiniLM), or a model"
        " folder"
    )
