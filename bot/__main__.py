"""`newsbot chat | ask | timeline | sources | index | import | telegram` (or `python -m bot ...`): the
command line over the retrieval library."""

from __future__ import annotations

import argparse
import contextlib
import errno
import itertools
import json
import logging
import os
import sys
from collections.abc import Iterator
from contextlib import AbstractContextManager
from pathlib import Path

from bot.index_command import INDEX_ERROR
from bot.terminal import output_width, wrap

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

USAGE_ERROR = 2
OUTPUT_ERROR = 1  # the output could not be written (full disk, closed pipe)
# Every error starts so, however the program was started (make, python -m bot, newsbot).
ERROR = "newsbot: error:"
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
        raise UsageError(f"{message} (see '{self.prog} --help')")  # prog: "python -m bot ask"

    def _print_message(self, message: str, file=None) -> None:  # noqa: ANN001
        # argparse drops an OSError here: `--help > /dev/full` would exit 0 having shown nothing.
        if message:
            (file or sys.stderr).write(message)


class _Version(argparse.Action):
    """--version: read from the installed package's metadata only when asked for."""

    def __init__(self, option_strings: list[str], dest: str, **kwargs: object) -> None:
        super().__init__(option_strings, dest, nargs=0, help="print the version and exit")

    def __call__(self, parser, namespace, values, option_string=None) -> None:  # noqa: ANN001
        from importlib.metadata import version

        parser._print_message(f"newsbot {version('newsbot')}\n", sys.stdout)
        parser.exit()


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog=program_name(), description="Answer questions about news articles.")
    parser.add_argument("--version", action=_Version)
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
    ask.add_argument(
        "--top-k",
        type=int,
        help="passages per answer (1-100; default: chat.shown_passages of the config, 3)",
    )
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
        "try-telegram",
        parents=[common],
        help="try the Telegram bot without a token: a local Bot API server and a chat client",
    )
    from bot.index_command import add_index_parser

    add_index_parser(commands, common)
    from bot.ingest.cli import add_import_parser

    add_import_parser(commands, common)
    return parser


def _loading(message: str) -> AbstractContextManager[object]:
    """On a terminal, the console's spinner and progress bar. Otherwise silence while nothing
    is slow, and lines on stderr while texts are embedded (a log shows the bot is working)."""
    from bot.progress import progress

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
        from bot.index_command import run_index

        return run_index(args, config, program_name())
    if args.command == "sources":
        return _sources(args, config)
    if args.command == "import":
        from bot.ingest.cli import run_import

        return run_import(args, config)
    if args.command == "try-telegram":
        from bot.sandbox import run_sandbox

        return run_sandbox(config, seeds_dir=args.seeds, progress=_loading)
    from bot.telegram.app import run_telegram

    return run_telegram(config, seeds_dir=args.seeds)


def _ask(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - AppConfig, imported lazily
    from bot.answer_format import ANSI, PLAIN
    from bot.runtime import open_retriever
    from retrieval.text.clean import clean_question

    if args.top_k is None:  # the console chat's setting, so both show the same
        args.top_k = config.chat.shown_passages
    if not 1 <= args.top_k <= 100:
        raise UsageError(f"--top-k: must be between 1 and 100, got {args.top_k}")
    if args.question == "-":
        lines = _stdin_questions()
        # The first question is waited for before the model loads: empty input is a usage error.
        pending, first = _first_question(lines)
        questions = itertools.chain(pending, [first], lines)
    else:
        question = clean_question(args.question)
        if not question:
            raise UsageError("QUESTION: the question is empty")
        questions = iter([(1, question, None)])
    if args.top_k > config.retrieval.max_results:  # keep as many passages as were asked for
        retrieval = config.retrieval.model_copy(update={"max_results": args.top_k})
        config = config.model_copy(update={"retrieval": retrieval})
    retriever = open_retriever(config, seeds_dir=args.seeds, progress=_loading)
    markup = ANSI if sys.stdout.isatty() else PLAIN
    width = output_width(sys.stdout)
    headed = args.question == "-"  # stdin: each answer under its question
    for number, question, problem in questions:
        text = _answer_text(retriever, config, args, (number, question, problem), markup)
        if args.json:
            print(text, flush=True)
            continue
        if number > 1:
            print()
        if headed and question:
            print(wrap(markup.dim(f"Q: {question}"), width))
        print(wrap(text, width), flush=True)
    return 0


def _answer_text(retriever, config, args, line: Line, markup) -> str:  # noqa: ANN001 - lazy types
    """One input line's answer: a JSON line with --json, else the text shown."""
    from bot.answer_format import render_answer
    from bot.answer_json import answer_to_json
    from retrieval.pipeline import Answer
    from retrieval.question.checks import question_problem

    number, question, problem = line
    if problem or not question:
        problem = problem or f"line {number} is empty: no question"
        if args.json:
            return json.dumps({"question": question, "error": problem}, ensure_ascii=False)
        return markup.dim(f"Q: (line {number})") + f"\nNo question: {problem}."
    refused = question_problem(question)
    answer = Answer(question, False, (), problem=refused) if refused else retriever.ask(question)
    if args.json:
        return json.dumps(answer_to_json(answer, args.top_k), ensure_ascii=False)
    return refused or render_answer(
        answer,
        markup,
        shown=args.top_k,
        snippet_chars=config.chat.snippet_chars,
        sources_command=f"`{program_name()} sources`",
    )


Line = tuple[int, str, str | None]  # line number, question (cleaned), problem or None


def _stdin_questions() -> Iterator[Line]:
    """Standard input a line at a time, as it arrives: a slow producer gets each answer
    before it writes the next question, and endless input (`yes | newsbot ask -`) runs in
    bounded memory. A line longer than a question may be is refused unread, not held whole."""
    from bot.console import MAX_QUESTION_CHARS
    from retrieval.text.clean import clean_question

    most = 4 * MAX_QUESTION_CHARS + 2  # bytes: four per character in UTF-8, and "\r\n"
    stream = sys.stdin.buffer
    for number in itertools.count(1):
        raw = stream.readline(most)
        if not raw:
            return
        if not raw.endswith(b"\n") and len(raw) == most:
            while (rest := stream.readline(most)) and not rest.endswith(b"\n"):
                pass  # the rest of the line, a piece at a time, dropped
            raw = b"x" * most
        text = raw.decode("utf-8", errors="replace")  # a bad byte must not end the batch
        if len(text.rstrip("\r\n")) > MAX_QUESTION_CHARS:
            yield number, "", f"line {number} is longer than {MAX_QUESTION_CHARS:,} characters"
        else:
            yield number, clean_question(text), None


def _first_question(lines: Iterator[Line]) -> tuple[Iterator[Line], Line]:
    """The blank lines before the first question (answered as such), and that question."""
    for blanks, line in enumerate(lines):
        if line[1] or line[2]:
            return ((n, "", None) for n in range(1, blanks + 1)), line
    raise UsageError("standard input holds no question (one question per line)")


def _sources(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - AppConfig, lazily
    from bot.answer_format import ANSI, PLAIN, render_sources
    from bot.runtime import load_articles, open_retriever

    markup = ANSI if sys.stdout.isatty() else PLAIN
    if config.index.engine == "milvus":  # the articles there, not the seeds folder's
        articles = open_retriever(config, progress=_loading).articles
    else:
        articles = load_articles(config, args.seeds)
    print(wrap(render_sources(articles, markup), output_width(sys.stdout)))
    return 0


def _timeline(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - AppConfig, lazily
    from bot.answer_format import ANSI, TEXT, render_timeline
    from bot.answer_json import timeline_to_json
    from bot.runtime import open_retriever
    from retrieval.pipeline import StoreDown
    from retrieval.text.clean import clean_question

    if args.limit is not None and args.limit < 1:
        raise UsageError(f"--limit: must be at least 1, got {args.limit}")
    topic = clean_question(args.topic or "") or None
    retriever = open_retriever(config, seeds_dir=args.seeds, progress=_loading)
    try:
        events = retriever.timeline(topic)[: args.limit]
    except StoreDown as exc:  # the engine went away after the start: one line, exit 1
        print(exc, file=sys.stderr)
        return 1
    if args.json:
        print(json.dumps(timeline_to_json(events), ensure_ascii=False))
    elif not events:
        about = f" about “{topic}”" if topic else ""
        print(f"No dated events{about} in the articles.")
    else:
        terminal = sys.stdout.isatty()
        width = output_width(sys.stdout)
        title_chars = width - 2 if terminal and width else None  # one line per title
        text = render_timeline(
            events, ANSI if terminal else TEXT, first_number=1, title_chars=title_chars
        )
        print(wrap(text, width))
    return 0


def main(argv: list[str] | None = None) -> int:
    from bot.config import ConfigError
    from bot.progress import IndexBuildError
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
        print(f"{ERROR} {exc}", file=sys.stderr)
        return USAGE_ERROR
    except IndexBuildError as exc:  # a full disk while indexing is no error of the output
        print(f"{ERROR} {exc}", file=sys.stderr)
        return INDEX_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ask ... | head -1`: the reader left; no traceback for that
        _drop_output()
        return OUTPUT_ERROR
    except OSError as exc:
        if exc.errno not in OUTPUT_ERRNOS:
            raise
        _drop_output()  # `> /dev/full`: say so once, on stderr
        print(f"{ERROR} cannot write the output: {exc.strerror}", file=sys.stderr)
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
