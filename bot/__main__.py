"""`python -m bot chat | ask | telegram`: the command line over the retrieval library."""

from __future__ import annotations

import argparse
import contextlib
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


class UsageError(Exception):
    """Bad usage or bad input; main prints it as one line and exits 2."""


class _Parser(argparse.ArgumentParser):
    """argparse, but a usage mistake is one line on stderr, like every other error."""

    def error(self, message: str) -> None:  # type: ignore[override]
        raise UsageError(f"{message} (see 'python -m bot --help')")


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(prog="python -m bot", description="Answer questions about news articles.")
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
            help="folder of seed articles; overrides the config",
        )
    commands = parser.add_subparsers(
        dest="command", required=True, metavar="COMMAND", parser_class=_Parser
    )
    commands.add_parser("chat", parents=[common], help="console chat")
    ask = commands.add_parser("ask", parents=[common], help="answer one question, or - for stdin")
    ask.add_argument("--top-k", type=int, default=3, help="passages per answer (1-100, default 3)")
    ask.add_argument("--json", action="store_true", help="one JSON object per question and line")
    ask.add_argument("question", help="the question, or - to read one question per line")
    timeline = commands.add_parser(
        "timeline", parents=[common], help="the dated events, in date order"
    )
    timeline.add_argument("topic", nargs="?", help="only events of passages about this topic")
    timeline.add_argument("--json", action="store_true", help="one JSON list of the events")
    timeline.add_argument(
        "--limit", type=int, default=None, help="at most this many events (default: all)"
    )
    commands.add_parser("telegram", parents=[common], help="run the Telegram bot")
    return parser


def _loading(message: str) -> AbstractContextManager[object]:
    """On a terminal, the console's spinner and progress bar; piped output stays clean."""
    if sys.stderr.isatty():
        from bot.console import progress

        return progress(message, sys.stderr)
    return contextlib.nullcontext()


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
    from bot.telegram_bot import run_telegram

    return run_telegram(config, seeds_dir=args.seeds)


def _ask(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - AppConfig, imported lazily
    from bot.answer_format import ANSI, PLAIN, answer_to_json, render_answer
    from bot.runtime import open_retriever
    from retrieval.text import clean_question

    if not 1 <= args.top_k <= 100:
        raise UsageError(f"--top-k: must be between 1 and 100, got {args.top_k}")
    if args.question == "-":
        sys.stdin.reconfigure(errors="replace")  # a bad byte must not end the whole batch
        questions = [q for q in map(clean_question, sys.stdin) if q]
        if not questions:
            raise UsageError("standard input holds no question (one question per line)")
    else:
        questions = [clean_question(args.question)]
        if not questions[0]:
            raise UsageError("QUESTION: the question is empty")
    retriever = open_retriever(config, seeds_dir=args.seeds, progress=_loading)
    markup = ANSI if sys.stdout.isatty() else PLAIN
    for number, question in enumerate(questions):
        answer = retriever.ask(question)
        if args.json:
            print(json.dumps(answer_to_json(answer, args.top_k), ensure_ascii=False), flush=True)
        else:
            if number:
                print()
            if len(questions) > 1:
                print(markup.dim(f"Q: {question}"))
            print(render_answer(answer, markup, shown=args.top_k), flush=True)
    return 0


def _timeline(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - AppConfig, lazily
    from bot.answer_format import ANSI, PLAIN, render_timeline, timeline_to_json
    from bot.runtime import open_retriever
    from retrieval.text import clean_question

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
        print(render_timeline(events, markup, first_number=1))
    return 0


def main(argv: list[str] | None = None) -> int:
    from bot.config import ConfigError
    from retrieval.corpus import SeedError

    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    try:
        return run(argv)
    except (UsageError, ConfigError, SeedError) as exc:
        print(f"python -m bot: error: {exc}", file=sys.stderr)
        return USAGE_ERROR
    except KeyboardInterrupt:
        return 130
    except BrokenPipeError:  # `ask ... | head -1`: the reader left; no traceback for that
        # Python flushes stdout once more on exit; send that to /dev/null instead.
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 1


if __name__ == "__main__":
    sys.exit(main())
