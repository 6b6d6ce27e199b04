"""`newsbot chat | ask | timeline | sources | index | telegram` (or `python -m bot ...`): the
command line over the retrieval library."""

from __future__ import annotations

import argparse
import contextlib
import errno
import json
import logging
import os
import sys
from contextlib import AbstractContextManager
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

USAGE_ERROR = 2
OUTPUT_ERROR = 1  # the output could not be written (full disk, closed pipe)
# Errors of writing the output rather than of anything the bot does: one line, exit 1.
OUTPUT_ERRNOS = {errno.ENOSPC, errno.EDQUOT, errno.EFBIG, errno.EIO, errno.EPIPE, errno.EBADF}


def program_name() -> str:
    """ "newsbot" when run as the console script, "python -m bot" otherwise."""
    return "newsbot" if Path(sys.argv[0]).name == "newsbot" else "python -m bot"


class UsageError(Exception):
    """Bad usage or bad input; main prints it as one line and exits 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr, like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see '{self.prog.split()[0]} --help')")

    def _print_message(self, message: str, file=None) -> None:  # noqa: ANN001
        # argparse drops an OSError here: `--help > /dev/full` would exit 0 having shown nothing.
        if message:
            (file or sys.stderr).write(message)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=program_name(), description="Answer questions about news articles.")
    # --config and --seeds go before or after the command; SUPPRESS keeps an absent
    # after-command option from overwriting one given before it.
    common = _Parser(add_help=False)
    for options, default in ((parser, None), (common, argparse.SUPPRESS)):
        options.add_argument(
            "--config",
            type=Path,
            default=default,
            help="YAML config file (default: config/default.yaml)",
        )
        options.add_argument(
            "--seeds",
            type=Path,
            default=default,
            help="folder of seed articles (*.txt); overrides the config",
        )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    commands.add_parser("chat", parents=[common], help="console chat")
    ask = commands.add_parser("ask", parents=[common], help="answer one question, or - for stdin")
    ask.add_argument("--top-k", type=int, default=3, help="passages per answer (1-100, default 3)")
    ask.add_argument(
        "--json", action="store_true", help="one JSON object per input line, in input order"
    )
    ask.add_argument("question", help="the question, or - to read one question per line")
    commands.add_parser("sources", parents=[common], help="the articles and their dates")
    timeline = commands.add_parser(
        "timeline", parents=[common], help="the dated events, in date order"
    )
    timeline.add_argument("topic", nargs="?", help="only events of passages about this topic")
    timeline.add_argument("--json", action="store_true", help="one JSON list of the events")
    timeline.add_argument(
        "--limit", type=int, default=None, help="at most this many events (default: all)"
    )
    commands.add_parser("telegram", parents=[common], help="run the Telegram bot")
    commands.add_parser(
        "index", parents=[common], help="build or update the index of the seeds ahead of time"
    )
    return parser


def _loading(message: str) -> AbstractContextManager[object]:
    """On a terminal, the console's spinner and progress bar. Otherwise silence while nothing
    is slow, and lines on stderr while texts are embedded (a log shows the bot is working)."""
    from bot.console import progress

    return progress(message, sys.stderr, announce=False)


def run(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    from bot.config import load_config

    config = load_config(args.config)
    if args.command == "chat":
        from bot.console import run_chat

        return run_chat(config, seeds_dir=args.seeds)
    if args.command == "ask":
        return _ask(args, config)
    if args.command == "timeline":
        return _timeline(args, config)
    if args.command == "index":
        return _index(args, config)
    if args.command == "sources":
        return _sources(args, config)
    from bot.telegram.app import run_telegram

    return run_telegram(config, seeds_dir=args.seeds)


def _ask(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - AppConfig, imported lazily
    from bot.answer_format import ANSI, PLAIN, answer_to_json, render_answer
    from bot.runtime import open_retriever
    from retrieval.pipeline import Answer
    from retrieval.question.checks import question_problem
    from retrieval.text.clean import clean_question

    if not 1 <= args.top_k <= 100:
        raise UsageError(f"--top-k: must be between 1 and 100, got {args.top_k}")
    if args.question == "-":
        sys.stdin.reconfigure(errors="replace")  # a bad byte must not end the whole batch
        # One answer per input line, blank lines included, so output line N answers line N.
        questions = [clean_question(line) for line in sys.stdin]
        if not any(questions):
            raise UsageError("standard input holds no question (one question per line)")
    else:
        questions = [clean_question(args.question)]
        if not questions[0]:
            raise UsageError("QUESTION: the question is empty")
    if args.top_k > config.retrieval.max_results:  # keep as many passages as were asked for
        retrieval = config.retrieval.model_copy(update={"max_results": args.top_k})
        config = config.model_copy(update={"retrieval": retrieval})
    retriever = open_retriever(config, seeds_dir=args.seeds, progress=_loading)
    markup = ANSI if sys.stdout.isatty() else PLAIN
    width = output_width(sys.stdout)
    for number, question in enumerate(questions, start=1):
        if not question:
            problem = f"line {number} is empty: no question"
            if args.json:
                print(json.dumps({"question": "", "error": problem}), flush=True)
            else:
                print(("\n" if number > 1 else "") + markup.dim(f"Q: (line {number})"))
                print(f"No question: {problem}.", flush=True)
            continue
        problem = question_problem(question)
        if problem:
            answer = Answer(question, False, (), problem=problem)
        else:
            answer = retriever.ask(question)
        if args.json:
            print(json.dumps(answer_to_json(answer, args.top_k), ensure_ascii=False), flush=True)
            continue
        if number > 1:
            print()
        if len(questions) > 1:
            print(wrap(markup.dim(f"Q: {question}"), width))
        text = problem or render_answer(
            answer, markup, shown=args.top_k, sources_command=f"`{program_name()} sources`"
        )
        print(wrap(text, width), flush=True)
    return 0


def _sources(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - AppConfig, lazily
    from bot.answer_format import ANSI, PLAIN, render_sources
    from bot.runtime import load_articles

    markup = ANSI if sys.stdout.isatty() else PLAIN
    print(wrap(render_sources(load_articles(config, args.seeds), markup), output_width(sys.stdout)))
    return 0


def output_width(stream) -> int | None:  # noqa: ANN001 - a text stream
    from bot.terminal import terminal_width

    return terminal_width(stream)


def wrap(text: str, width: int | None) -> str:
    from bot.terminal import wrap_text

    return wrap_text(text, width) if width else text


def _timeline(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - AppConfig, lazily
    from bot.answer_format import ANSI, PLAIN, render_timeline, timeline_to_json
    from bot.runtime import open_retriever
    from retrieval.text.clean import clean_question

    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit: must be at least 1, got {args.limit}")
    topic = clean_question(args.topic or "") or None
    retriever = open_retriever(config, seeds_dir=args.seeds, progress=_loading)
    events = retriever.timeline(topic)[: args.limit]
    if args.json:
        print(json.dumps(timeline_to_json(events), ensure_ascii=False))
    elif not events:
        about = f" about “{topic}”" if topic else ""
        print(f"No dated events{about} in the articles.")
    else:
        markup = ANSI if sys.stdout.isatty() else PLAIN
        print(wrap(render_timeline(events, markup, first_number=1), output_width(sys.stdout)))
    return 0


def _index(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - AppConfig, lazily
    from bot.progress import BuildReporter
    from bot.runtime import open_retriever

    # Every stage with its rate and time left: on a terminal one line, otherwise log lines.
    retriever = open_retriever(
        config, seeds_dir=args.seeds, build_progress=BuildReporter(sys.stderr)
    )
    report = retriever.report
    lines = [f"{'Index built' if report.rebuilt else 'Index up to date'}: {report.summary()}"]
    for label, names in (
        ("new", report.added),
        ("changed", report.changed),
        ("removed", report.removed),
        ("skipped (broken or a copy)", report.skipped),
    ):
        if names and len(names) <= 10:
            lines.append(f"- {label}: {', '.join(names)}")
    key_folder = retriever.index.folder.parent
    others = [f for f in key_folder.parent.iterdir() if f.is_dir() and f != key_folder]
    if others:
        size = sum(p.stat().st_size for f in others for p in f.rglob("*") if p.is_file())
        lines.append(
            f"{len(others)} other index folder{'s' if len(others) != 1 else ''} in"
            f" {key_folder.parent} ({size / 2**20:,.0f} MiB) belong to other seeds folders,"
            " models, settings or versions; any of them can be deleted, it is rebuilt from the"
            " embedding cache when needed."
        )
    print(wrap("\n".join(lines), output_width(sys.stdout)))
    return 0


def main(argv: list[str] | None = None) -> int:
    from bot.config import ConfigError
    from retrieval.corpus import SeedError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        try:
            code = run(argv)
        except SystemExit as exc:  # --help: its text must reach the output like any other
            code = exc.code if isinstance(exc.code, int) else 0
        sys.stdout.flush()
        return code
    except (UsageError, ConfigError, SeedError) as exc:
        print(f"{program_name()}: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ask ... | head -1`: the reader left; no traceback for that
        _drop_output()
        return OUTPUT_ERROR
    except OSError as exc:
        if exc.errno not in OUTPUT_ERRNOS:
            raise
        _drop_output()  # `> /dev/full`: say so once, on stderr
        print(f"{program_name()}: error: cannot write the output: {exc.strerror}", file=sys.stderr)
        return OUTPUT_ERROR


def _drop_output() -> None:
    """Python flushes stdout once more on exit; send what is left to /dev/null instead."""
    with contextlib.suppress(OSError, ValueError):  # stdout already closed or not a file
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())


def entry() -> None:
    """The `newsbot` console script."""
    sys.exit(main())


if __name__ == "__main__":
    sys.exit(main())
