"""`python -m bot` as a user runs it: real subprocesses, real model (loaded by two of them only)."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
TITLE = "Masimov was a loyalist of former President Nazabaryev. The purge has begun"
CHESS = (
    "date 2023-04-30 Ding Liren becomes world chess champion\n\n"
    "Ding Liren of China won the world chess championship on Sunday, beating Ian Nepomniachtchi "
    "of Russia in a rapid tie-break. He is the first Chinese player to hold the title.\n"
)


def run_bot(*args: str, stdin: str = "", timeout: float = 120) -> subprocess.CompletedProcess:
    env = {**os.environ, "HF_HUB_OFFLINE": "1", "TRANSFORMERS_OFFLINE": "1"}
    env.pop("NO_COLOR", None)
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
    )


@pytest.fixture(scope="module")
def cli_config(tmp_path_factory) -> Path:
    """The bundled seeds, with the embedding cache in a temporary folder instead of the project."""
    folder = tmp_path_factory.mktemp("cli")
    path = folder / "bot.yaml"
    path.write_text(
        f"corpus:\n  seeds_dir: {ROOT / 'seeds'}\n  cache_dir: {folder / 'cache'}\n",
        encoding="utf-8",
    )
    return path


# --- answers (the two runs that load the model) -------------------------------------------------


def test_ask_json_batch_from_stdin(cli_config):
    questions = [
        "Who did President Tokayev order to be arrested?",
        "",  # a blank line gets an error object: output line N answers input line N
        "Why did Tokaev arrest Massimov?",
        "What is the capital of France?",
        "Кого арестовали в Казахстане?",
    ]
    result = run_bot("ask", "--config", str(cli_config), "--json", "-", stdin="\n".join(questions))
    assert result.returncode == 0, result.stderr
    # Not a terminal: no spinner, but a log of the texts embedded into the empty cache (a slow
    # first start says what it does), on stderr only, never mixed into the answers.
    log = result.stderr.splitlines()
    assert len(log) == 2 and re.fullmatch(r"Embedding ([\d,]+) new paragraphs…", log[0])
    assert re.fullmatch(r"Embedded ([\d,]+) new paragraphs in [\d.]+ s\.", log[1])
    lines = result.stdout.splitlines()
    assert len(lines) == len(questions)
    answers = [json.loads(line) for line in lines]
    assert answers[1] == {"question": "", "error": "line 2 is empty: no question"}
    assert answers[4]["answered"] is False and answers[4]["passages"] == []
    assert answers[4]["problem"].startswith("I only understand questions in English")
    assert "Cyrillic" in answers[4]["problem"]
    del answers[4], answers[1]
    assert [a["question"] for a in answers] == [q for q in questions[:4] if q]
    for answer in answers:
        base = {"question", "answered", "passages", "corrections"}
        assert base <= set(answer) <= base | {"short_answer", "doubtful"}
        for passage in answer["passages"]:
            assert set(passage) == {
                "text", "title", "date", "source", "score", "highlight", "dates"
            }  # fmt: skip
            assert passage["title"] == TITLE
            assert passage["date"] == "2022-01-08"
            assert passage["source"] == "000_bf7e3f6dcec9099b.txt"
            assert isinstance(passage["score"], float)
            assert passage["highlight"] in passage["text"]
        scores = [p["score"] for p in answer["passages"]]
        assert scores == sorted(scores, reverse=True)

    arrest, typo, france = answers
    assert arrest["answered"] is True
    assert len(arrest["passages"]) == 3  # --top-k defaults to 3
    assert "Karim Masimov" in arrest["passages"][0]["highlight"]
    assert typo["answered"] is True
    assert "Masimov" in typo["passages"][0]["text"]
    assert typo["corrections"] == {"tokaev": "tokayev", "massimov": "masimov"}
    assert france == {
        "question": "What is the capital of France?",
        "answered": False,
        "passages": [],
        "corrections": {},
    }


def test_seeds_option_overrides_the_corpus(cli_config, tmp_path):
    seeds = tmp_path / "other-seeds"
    seeds.mkdir()
    (seeds / "chess.txt").write_text(CHESS, encoding="utf-8")
    result = run_bot(
        "ask",
        "--config",
        str(cli_config),
        "--seeds",
        str(seeds),
        "--top-k",
        "1",
        "-",
        stdin="Who won the world chess championship?\nWho was Karim Masimov?\n",
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # Plain text on a pipe: no colour codes, the best sentence marked with **.
    assert "\033" not in out
    assert "Q: Who won the world chess championship?" in out
    assert "**Ding Liren of China won the world chess championship" in out
    assert "— Ding Liren becomes world chess champion, 30 April 2023" in out
    assert "Q: Who was Karim Masimov?" in out
    # The bundled seeds are not loaded: the reply says no article names him, and shows none.
    reply = out.split("Q: Who was Karim Masimov?")[1].strip().splitlines()
    assert reply[0] == "No article mentions Karim Masimov; these are the closest passages."
    assert "Masimov" not in "\n".join(reply[1:])
    assert "8 January 2022" not in out


# --- usage errors: one line on stderr, exit 2, fast (no model) ----------------------------------


def usage_error(*args: str, stdin: str = "") -> str:
    """Runs with import profiling: the error must come before torch or the model is imported."""
    env_args = ["-X", "importtime", "-m", "bot", *args]
    result = subprocess.run(
        [sys.executable, *env_args],
        cwd=ROOT,
        input=stdin,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )
    imports = [line for line in result.stderr.splitlines() if line.startswith("import time:")]
    rest = [line for line in result.stderr.splitlines() if not line.startswith("import time:")]
    imported = {line.rsplit("|", 1)[-1].strip() for line in imports}
    assert "torch" not in imported and "sentence_transformers" not in imported
    assert result.returncode == 2
    assert result.stdout == ""
    assert len(rest) == 1, rest
    return rest[0]


def test_empty_question():
    assert usage_error("ask", "  ") == "newsbot: error: QUESTION: the question is empty"


@pytest.mark.parametrize("top_k", ["0", "101", "-3"])
def test_top_k_out_of_range(top_k):
    line = usage_error("ask", "--top-k", top_k, "Who was arrested?")
    assert line == f"newsbot: error: --top-k: must be between 1 and 100, got {top_k}"


def test_top_k_checked_before_reading_stdin():
    assert "--top-k" in usage_error("ask", "--top-k", "0", "-", stdin="Who was arrested?\n")


@pytest.mark.parametrize("command", [["ask", "Who was arrested?"], ["chat"], ["telegram"]])
def test_bad_config_file(tmp_path, command):
    config = tmp_path / "bad.yaml"
    config.write_text("retrieval:\n  max_sentencs: 3\n", encoding="utf-8")
    line = usage_error(*command[:1], "--config", str(config), *command[1:])
    assert line == (
        f"newsbot: error: {config}: unknown key 'retrieval.max_sentencs'"
        " (did you mean 'retrieval.max_sentences'?)"
    )


@pytest.mark.parametrize("where", ["before", "after"])
def test_config_and_seeds_may_come_before_or_after_the_command(tmp_path, where):
    config = tmp_path / "bad.yaml"
    config.write_text("chat:\n  snippet_chars: 5\n", encoding="utf-8")
    options = ["--config", str(config)]
    args = [*options, "ask", "Who?"] if where == "before" else ["ask", *options, "Who?"]
    assert "chat.snippet_chars" in usage_error(*args)
    seeds = tmp_path / "missing"
    args = (
        ["--seeds", str(seeds), "ask", "Who?"]
        if where == "before"
        else ["ask", "--seeds", str(seeds), "Who?"]
    )
    assert str(seeds) in usage_error(*args)


@pytest.mark.parametrize(
    ("model", "problem"),
    [("missing-model", "no such model folder"), (".", "not a model folder")],
)
def test_model_that_is_not_there_is_one_line(tmp_path, model, problem):
    """A relative model folder is looked up next to the config file, like every other path."""
    config = tmp_path / "bot.yaml"
    config.write_text(f"retrieval:\n  model: ./{model}\n", encoding="utf-8")
    line = usage_error("ask", "--config", str(config), "--seeds", str(ROOT / "seeds"), "Who?")
    assert line.startswith(f"newsbot: error: {config}: key 'retrieval.model': ")
    assert problem in line


def test_missing_config_file(tmp_path):
    line = usage_error("ask", "--config", str(tmp_path / "nope.yaml"), "Who?")
    assert str(tmp_path / "nope.yaml") in line and "not found" in line


def test_bad_seed_file(tmp_path):
    seeds = tmp_path / "seeds"
    seeds.mkdir()
    (seeds / "ok.txt").write_text("date 2022-01-08 Fine\n\nFine text.\n", encoding="utf-8")
    bad = seeds / "bad.txt"
    bad.write_text("\ndate 2022-02-30 Leap\n\nText.\n", encoding="utf-8")
    line = usage_error("ask", "--seeds", str(seeds), "Who was arrested?")
    assert line.startswith(f"newsbot: error: {bad}:2: impossible date '2022-02-30'")


def test_seeds_option_naming_a_file(tmp_path):
    seed = tmp_path / "one.txt"
    seed.write_text("date 2022-01-08 Fine\n\nFine text.\n", encoding="utf-8")
    line = usage_error("ask", "--seeds", str(seed), "Who?")
    assert line == f"newsbot: error: --seeds {seed}: is a file, not a seeds folder"


def test_a_config_elsewhere_takes_the_project_defaults(tmp_path):
    """Only the model set, in a folder of its own: the bundled seeds are still found."""
    folder = tmp_path / "x"
    folder.mkdir()
    config = folder / "bot.yaml"
    config.write_text("retrieval:\n  model: all-MiniLM-L6-v2\n", encoding="utf-8")
    result = run_bot("sources", "--config", str(config), timeout=60)
    assert result.returncode == 0, result.stderr
    assert result.stdout == f"1 article:\n• **8 January 2022** — {TITLE}\n"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["x"]  # no .cache or seeds beside it


def test_every_config_problem_at_once(tmp_path):
    config = tmp_path / "bad.yaml"
    config.write_text(
        "chat:\n  shown_passages: three\n  snippet_chars: 5\nretrieval:\n  fusion: sum\n",
        encoding="utf-8",
    )
    result = run_bot("ask", "--config", str(config), "Who?", timeout=60)
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr.splitlines() == [
        f"newsbot: error: {config}: 3 problems:",
        "  key 'retrieval.fusion': must be 'weighted' or 'rrf', got 'sum'",
        "  key 'chat.shown_passages': must be a whole number, got 'three'",
        "  key 'chat.snippet_chars': must be at least 40, got 5",
    ]


LONG = "x" * 5000


@pytest.mark.parametrize(
    ("command", "yaml_text", "key", "problem"),
    [
        (["ask", "Who?"], f"corpus:\n  cache_dir: {LONG}\n", "corpus.cache_dir", "ile name too long"),
        (["ask", "Who?"], "corpus:\n  cache_dir: /proc/newsbot\n", "corpus.cache_dir", "cannot make the cache folder"),
        (["ask", "Who?"], "corpus:\n  seeds_dir: {file}\n", "corpus.seeds_dir", "is a file, not a seeds folder"),
        (["ask", "Who?"], f"corpus:\n  seeds_dir: {LONG}\n", "corpus.seeds_dir", "ile name too long"),
        (["ask", "Who?"], "corpus:\n  seeds_dir: /proc/newsbot\n", "corpus.seeds_dir", "does not exist"),
        (["ask", "Who?"], f"retrieval:\n  model: {LONG}\n", "retrieval.model", "characters)"),
        (["ask", "Who?"], "retrieval:\n  model: './m\\0'\n".replace("'", '"'), "retrieval.model", "no model name"),
        (["chat"], "chat:\n  history_file: {folder}\n", "chat.history_file", "is not a file"),
        (["chat"], f"chat:\n  history_file: {LONG}\n", "chat.history_file", "ile name too long"),
        (["chat"], "chat:\n  history_file: /proc/nope/h\n", "chat.history_file", "does not exist"),
        (["ask", "Who?"], "corpus:\n  cache_dir: ~nosuchuser/x\n", "corpus.cache_dir", "no user"),
    ],
    ids=[
        "cache-long", "cache-proc", "seeds-file", "seeds-long", "seeds-proc",
        "model-long", "model-nul", "history-folder", "history-long", "history-proc", "home",
    ],
)  # fmt: skip
def test_paths_the_os_refuses_are_one_line_naming_the_key(
    tmp_path, command, yaml_text, key, problem
):
    afile = tmp_path / "a-file"
    afile.write_text("", encoding="utf-8")
    config = tmp_path / "bot.yaml"
    config.write_text(yaml_text.format(file=afile, folder=tmp_path), encoding="utf-8")
    line = usage_error(command[0], "--config", str(config), *command[1:])
    assert line.startswith(f"newsbot: error: {config}: key {key!r}")
    assert problem in line
    assert len(line) < 400  # a 5,000-character value is not echoed whole


def test_seeds_option_the_os_refuses():
    line = usage_error("ask", "--seeds", LONG, "Who?")
    assert len(line) < 300
    assert line.startswith("newsbot: error: --seeds ")
    assert "cannot use it as the seeds folder" in line


def test_deeply_nested_config_is_one_line(tmp_path):
    config = tmp_path / "deep.yaml"
    config.write_text("a: " + "[" * 100_000 + "\n", encoding="utf-8")
    line = usage_error("ask", "--config", str(config), "Who?")
    assert line == f"newsbot: error: {config}: invalid YAML: nested too deeply"


@pytest.mark.parametrize(
    "args", [["--help"], ["sources"], ["timeline"]], ids=["help", "sources", "timeline"]
)
def test_a_full_disk_is_one_line_not_a_traceback(args, cli_config):
    with open("/dev/full", "w") as full:
        result = subprocess.run(
            [sys.executable, "-m", "bot", *args, *(["--config", str(cli_config)] if args != ["--help"] else [])],
            cwd=ROOT, stdout=full, stderr=subprocess.PIPE, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 1
    # An empty cache also logs its embedding progress on stderr first; the error is the last line.
    assert "Traceback" not in result.stderr
    assert result.stderr.splitlines()[-1] == (
        "newsbot: error: cannot write the output: No space left on device"
    )


@pytest.mark.parametrize("args", [["--help"], ["sources"], ["timeline"]])
def test_a_closed_pipe_ends_quietly(args, cli_config):
    """`newsbot timeline | head -1`: no traceback, for every command."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", *args, *(["--config", str(cli_config)] if args != ["--help"] else [])],
        cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
    )  # fmt: skip
    proc.stdout.close()  # the reader is gone before the first line
    assert proc.wait(timeout=120) == 1
    # Quiet: at most the embedding progress of an empty cache, never a traceback or an error.
    for line in proc.stderr.read().decode().splitlines():
        assert line.startswith("Embedd"), line


def test_missing_seed_folder(tmp_path):
    line = usage_error("ask", "--seeds", str(tmp_path / "nowhere"), "Who?")
    assert str(tmp_path / "nowhere") in line and "does not exist" in line


def test_seed_folder_without_articles(tmp_path):
    line = usage_error("ask", "--seeds", str(tmp_path), "Who?")
    assert str(tmp_path) in line and "no usable seed files" in line


def test_chat_with_bad_seeds_is_one_line(tmp_path):
    line = usage_error("chat", "--seeds", str(tmp_path))
    assert "no usable seed files" in line


@pytest.mark.parametrize(
    "args",
    [[], ["ask"], ["ask", "--top-k", "abc", "Who?"], ["frobnicate"]],
    ids=["missing-subcommand", "missing-question", "top-k-not-a-number", "unknown-subcommand"],
)
def test_argument_errors_are_one_line(args):
    line = usage_error(*args)
    assert line.startswith("newsbot: error: ")


@pytest.mark.parametrize(
    ("args", "words"),
    [
        ([], ["required", "COMMAND", "(see 'python -m bot --help')"]),
        (["ask"], ["required", "question", "(see 'python -m bot ask --help')"]),
        (["ask", "--top-k", "abc", "Who?"], ["--top-k", "abc"]),
        (["frobnicate"], ["invalid choice", "frobnicate"]),
    ],
)
def test_argument_errors_exit_2_and_name_the_problem(args, words):
    result = run_bot(*args, timeout=60)
    assert result.returncode == 2
    assert result.stdout == ""
    last = result.stderr.strip().splitlines()[-1]
    assert "error:" in last
    for word in words:
        assert word in last


def test_help_lists_the_commands():
    result = run_bot("--help", timeout=60)
    assert result.returncode == 0
    for command in ("chat", "ask", "telegram"):
        assert command in result.stdout


def test_top_k_over_max_results_gives_that_many_passages(cli_config, tmp_path):
    seeds = tmp_path / "many"
    seeds.mkdir()
    for n in range(15):
        (seeds / f"{n:02d}.txt").write_text(
            f"date 2022-01-{n + 1:02d} Cat {n}\n\nThe cat number {n} sat on the mat.\n",
            encoding="utf-8",
        )
    result = run_bot(
        "ask", "--config", str(cli_config), "--seeds", str(seeds), "--top-k", "100", "--json",
        "Which cat sat on the mat?",
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert len(json.loads(result.stdout)["passages"]) == 15  # not max_results (10)


def test_no_answer_in_ask_points_to_the_sources_command(cli_config):
    result = run_bot("ask", "--config", str(cli_config), "How do I bake bread?")
    assert result.returncode == 0
    assert result.stdout == (
        "I found nothing about that in the articles. Ask about something they cover;"
        " `python -m bot sources` lists them with their dates.\n"
    )


def test_a_reader_that_leaves_early_gets_no_traceback(cli_config):
    """`python -m bot ask - | head -1`: the pipe closes while answers are still being written."""
    proc = subprocess.Popen(
        [sys.executable, "-m", "bot", "ask", "--config", str(cli_config), "--json", "-"],
        cwd=ROOT,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    proc.stdin.write("Who was arrested?\n" * 2000)
    proc.stdin.close()
    assert json.loads(proc.stdout.readline())["answered"] is True
    proc.stdout.close()
    assert proc.wait(timeout=120) == 1
    assert proc.stderr.read() == ""


def test_version():
    result = run_bot("--version", timeout=60)
    assert (result.returncode, result.stdout, result.stderr) == (0, "newsbot 0.1.0\n", "")


@pytest.mark.parametrize("started_as", ["python -m bot", "newsbot"])
def test_errors_have_one_prefix_however_the_bot_is_started(started_as):
    """Through make (`python -m bot`) errors began 'python -m bot: error:', otherwise
    'newsbot: error:'."""
    program = (
        f"import sys; sys.argv[0] = {started_as.split()[-1]!r}\n"
        "from bot.__main__ import entry\n"
        "entry()\n"
    )
    for args in (["ask", " "], ["frobnicate"]):
        result = subprocess.run(
            [sys.executable, "-c", program, *args],
            cwd=ROOT, capture_output=True, text=True, timeout=60,
        )  # fmt: skip
        assert result.returncode == 2
        assert result.stderr.startswith("newsbot: error: "), result.stderr
