"""Load test of the Telegram bot: many simulated users against the fake Bot API server.

Runs the fake server (bot/telegram/local_api/) and the real bot (polling mode, real model and
index) in this process. Each simulated user asks its questions one after another, waiting for
each reply, like a person would. Checks that every question gets exactly one reply and the
right kind (an answer or "found nothing"), then prints latency percentiles from the update
being enqueued to the reply reaching the server, and the wall time.

    .venv/bin/python scripts/load.py [--users 50] [--questions 10] [--timeout 300]
    .venv/bin/python scripts/load.py --flood 300 [--rounds 5]   # one user floods, another asks
    .venv/bin/python scripts/load.py --pushes 100 [--rounds 5]  # 100 chats get a push, one asks

Exit status: 0 if every question got exactly one correct reply in time, 1 otherwise.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import logging
import os
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from bot.answer_format import NO_ANSWER  # noqa: E402
from bot.config import AppConfig, load_config  # noqa: E402
from bot.telegram.local_api import FakeBotApi  # noqa: E402

TOKEN = "424242424:AAHload-test-token_not_a_real_one_0123"
ANSWERABLE = [
    "Who did Tokayev order to arrest?",
    "Where did the riots over LPG prices begin?",
    "How many Russian soldiers arrived?",
    "Who exchanged jibes with Lavrov?",
    "What did Blinken joke about?",
    "What happened in Almaty?",
    "Who was torpedoed with Masimov?",
]
UNANSWERABLE = [
    "What is the capital of France?",
    "Who won the 2018 World Cup?",
    "How do I bake sourdough bread?",
]


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(share * len(ordered) + 0.5) - 1))
    return ordered[index]


async def user_session(
    server: FakeBotApi, user_id: int, questions: list[str], latencies: list[float]
) -> list[tuple[str, str]]:
    """Ask each question, wait for its reply; returns (question, reply text) pairs."""
    user = server.user(user_id, f"User{user_id}")
    chat = server.private_chat(user)
    pairs = []
    for number, question in enumerate(questions, start=1):
        message = server.send_text(chat, user, question)
        update_id = server.update_id_of(message)
        (*_, reply) = await server.wait_sent(chat["id"], number, timeout=120)
        latencies.append(reply.at - server.enqueued_at[update_id])
        assert reply.message["message_id"] > message["message_id"]
        pairs.append((question, reply.text))
    return pairs


def bot_settings(config: AppConfig, server: FakeBotApi, args: argparse.Namespace) -> AppConfig:
    settings = config.telegram.model_copy(
        update={
            "base_url": server.base_url,
            "base_file_url": server.base_file_url,
            "workers": args.workers or config.telegram.workers,
            "rate_limit_count": max(config.telegram.rate_limit_count, args.questions),
        }
    )
    return config.model_copy(update={"telegram": settings})


@contextlib.asynccontextmanager
async def bot_in_process(config: AppConfig, server: FakeBotApi):
    from bot.runtime import open_retriever
    from bot.telegram.app import build_application, serve

    retriever = open_retriever(config)
    app = build_application(config, retriever, TOKEN)
    stop, ready = asyncio.Event(), asyncio.Event()
    task = asyncio.create_task(serve(app, config, stop=stop, ready=ready, handle_signals=False))
    await asyncio.wait_for(ready.wait(), 60)
    try:
        yield lambda: None
    finally:
        stop.set()
        await asyncio.wait_for(task, 60)


@contextlib.asynccontextmanager
async def bot_subprocess(config: AppConfig, server: FakeBotApi):
    """`python -m bot telegram` with a config pointing at the fake server; SIGTERM at the end."""
    data = config.model_dump(mode="json", exclude={"source"})
    data["corpus"]["seeds_dir"] = str(config.resolve(config.corpus.seeds_dir))
    if config.corpus.cache_dir is not None:
        data["corpus"]["cache_dir"] = str(config.resolve(config.corpus.cache_dir))
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "load.yaml"
        path.write_text(json.dumps(data))  # JSON is YAML
        log = open(Path(tmp) / "bot.log", "w+")  # noqa: SIM115 - closed below
        env = {**os.environ, "TELEGRAM_BOT_TOKEN": TOKEN}
        proc = subprocess.Popen(
            [sys.executable, "-m", "bot", "telegram", "--config", str(path)],
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        result: dict[str, int | None] = {"returncode": None}
        try:
            await server.wait_for(
                lambda: server.calls_to("getUpdates") or proc.poll() is not None, 120, "the bot"
            )
            if proc.poll() is not None:
                raise RuntimeError(f"the bot exited with {proc.returncode}")
            yield lambda: result["returncode"]
        finally:
            proc.send_signal(signal.SIGTERM)
            for _ in range(600):
                if proc.poll() is not None:
                    break
                await asyncio.sleep(0.1)
            else:
                proc.kill()
            result["returncode"] = proc.wait()
            # The bot is this process's only child, so these are its own.
            usage = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpu = usage.ru_utime + usage.ru_stime
            print(f"bot process: peak RSS {usage.ru_maxrss / 1024:.0f} MiB, CPU {cpu:.1f} s in all")
            log.seek(0)
            tail = log.read().strip().splitlines()[-5:]
            log.close()
            if result["returncode"] != 0:
                print("bot output:", *tail, sep="\n  ")


def _print_timings(
    server: FakeBotApi, latencies: list[float], wall: float, subprocess: bool
) -> None:
    """Latency percentiles, throughput, Bot API call counts and (in process) peak RSS."""
    if latencies:
        print(
            f"latency enqueue->reply: p50 {percentile(latencies, 0.50) * 1000:.0f} ms, "
            f"p95 {percentile(latencies, 0.95) * 1000:.0f} ms, "
            f"max {max(latencies) * 1000:.0f} ms, mean {statistics.mean(latencies) * 1000:.0f} ms"
        )
    print(f"wall time: {wall:.1f} s ({len(latencies) / wall:.1f} questions/s)")
    print(
        "Bot API calls: "
        + ", ".join(
            f"{m} {len(server.calls_to(m))}"
            for m in ("getUpdates", "sendChatAction", "sendMessage")
        )
    )
    if not subprocess:
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"peak RSS of this process (bot, test server and clients): {peak:.0f} MiB")


async def main_async(args: argparse.Namespace, config: AppConfig) -> int:
    expected = {q: True for q in ANSWERABLE} | {q: False for q in UNANSWERABLE}
    mix = ANSWERABLE + UNANSWERABLE
    plans = {
        1000 + u: [mix[(u * 3 + i) % len(mix)] for i in range(args.questions)]
        for u in range(args.users)
    }
    problems = []
    async with FakeBotApi(TOKEN, username="LoadTestBot") as server:
        cfg = bot_settings(config, server, args)
        runner = bot_subprocess if args.subprocess else bot_in_process
        where = "a subprocess (python -m bot telegram)" if args.subprocess else "this process"
        print(f"starting the bot in {where}: loading the articles and the model…", flush=True)
        async with runner(cfg, server) as exit_code:
            print(
                f"{args.users} users x {args.questions} questions, "
                f"{cfg.telegram.workers} retrieval threads, polling {server.base_url}",
                flush=True,
            )
            latencies: list[float] = []
            started = time.monotonic()
            sessions = [
                asyncio.create_task(user_session(server, uid, qs, latencies))
                for uid, qs in plans.items()
            ]
            done, pending = await asyncio.wait(sessions, timeout=args.timeout)
            wall = time.monotonic() - started
            for task in pending:
                task.cancel()
            await asyncio.sleep(2)  # late duplicates would show up here
        if args.subprocess and exit_code() != 0:
            problems.append(f"the bot exited with {exit_code()} on SIGTERM")

    if pending:
        problems.append(f"{len(pending)} users did not finish within {args.timeout} s")
    wrong = 0
    for task in done:
        if task.exception():
            problems.append(f"a user failed: {task.exception()!r}")
            continue
        for question, text in task.result():
            if text.startswith(NO_ANSWER) == expected[question]:
                wrong += 1
    if wrong:
        problems.append(f"{wrong} replies of the wrong kind (answer vs no answer)")
    counts = {uid: len(server.sent_to(uid)) for uid in plans}
    extra = {uid: n for uid, n in counts.items() if n != args.questions}
    if extra:
        problems.append(f"{len(extra)} chats with a reply count other than {args.questions}")
    total = args.users * args.questions
    print(f"questions: {total}, replies: {sum(counts.values())}, wrong kind: {wrong}")
    _print_timings(server, latencies, wall, args.subprocess)
    for problem in problems:
        print("PROBLEM:", problem)
    return 1 if problems else 0


async def flood_async(args: argparse.Namespace, config: AppConfig) -> int:
    """One user floods the bot with /help and a stranger outside the allowlist with questions,
    then another user asks: how long does that user wait, against the same question without a
    flood? A fresh bot per round (the flooder's allowance is per window)."""
    flooder, stranger, other = 1, 666, 2
    waits: dict[str, list[float]] = {"quiet": [], "flood": []}
    counts: list[tuple[int, int]] = []
    for round_ in range(args.rounds):
        for kind in ("quiet", "flood"):
            async with FakeBotApi(TOKEN, username="LoadTestBot") as server:
                cfg = bot_settings(config, server, args)
                cfg = cfg.model_copy(
                    update={
                        "telegram": cfg.telegram.model_copy(
                            update={"allowed_user_ids": [flooder, other]}
                        )
                    }
                )
                async with bot_in_process(cfg, server):
                    warm = server.user(3)
                    await server.wait_reply(
                        server.send_text(server.private_chat(warm), warm, ANSWERABLE[1])
                    )
                    if kind == "flood":
                        f_user, s_user = server.user(flooder), server.user(stranger)
                        f_chat, s_chat = server.private_chat(f_user), server.private_chat(s_user)
                        for n in range(args.flood):
                            server.send_text(f_chat, f_user, "/help")
                            if n < args.flood * 2 // 3:
                                server.send_text(s_chat, s_user, f"let me in {n}")
                    user = server.user(other)
                    message = server.send_text(server.private_chat(user), user, ANSWERABLE[0])
                    reply = await server.wait_reply(message, timeout=120)
                    waits[kind].append(reply.at - server.enqueued_at[server.update_id_of(message)])
                    if kind == "flood":
                        last = max(server.enqueued_at)
                        await server.wait_for(lambda n=last: server.confirmed_offset > n, 120)
                        await asyncio.sleep(1.0)
                        counts.append((len(server.sent_to(flooder)), len(server.sent_to(stranger))))
        print(
            f"round {round_ + 1}: quiet {waits['quiet'][-1] * 1000:.0f} ms, "
            f"flood {waits['flood'][-1] * 1000:.0f} ms, replies to the flooder and the "
            f"stranger {counts[-1]}",
            flush=True,
        )
    print(
        f"another user's answer, median of {args.rounds}: "
        f"{statistics.median(waits['quiet']) * 1000:.0f} ms without a flood, "
        f"{statistics.median(waits['flood']) * 1000:.0f} ms while one user sends {args.flood} "
        f"/help and a stranger {args.flood * 2 // 3} messages"
    )
    return 0


FOLLOWED = "Masimov arrest"
NEWS = """date 2022-01-09 Former spy chief Masimov held on treason charges

Kazakhstan's former intelligence chief Karim Masimov was arrested on suspicion of high treason,
the national security committee said on Sunday.
"""


async def pushes_async(args: argparse.Namespace, config: AppConfig) -> int:
    """args.pushes chats follow a topic that a new article matches; while their pushes go out,
    another user asks: how long does that user wait, against the same question with no pushes?
    A fresh bot, seeds folder and cache per round (what was pushed is kept in the cache)."""
    from bot.runtime import open_retriever
    from bot.telegram.local_api.running import running_bot

    waits: dict[str, list[float]] = {"quiet": [], "pushes": []}
    during: list[int] = []  # pushes sent before the answer
    first = 10_000  # the following chats' ids
    for round_ in range(args.rounds):
        for kind in ("quiet", "pushes"):
            with tempfile.TemporaryDirectory(prefix="load-pushes-") as tmp:
                seeds = Path(tmp) / "seeds"
                shutil.copytree(config.resolve(config.corpus.seeds_dir), seeds)
                corpus = config.corpus.model_copy(
                    update={"seeds_dir": seeds, "cache_dir": Path(tmp) / "cache", "watch": False}
                )
                base = config.model_copy(update={"corpus": corpus})
                retriever = await asyncio.to_thread(open_retriever, base)
                async with FakeBotApi(TOKEN, username="LoadTestBot") as server:
                    cfg = bot_settings(base, server, args)
                    async with running_bot(cfg, retriever, TOKEN) as app:
                        warm = server.user(3)
                        await server.wait_reply(
                            server.send_text(server.private_chat(warm), warm, ANSWERABLE[1])
                        )
                        chats = range(first, first + args.pushes)
                        if kind == "pushes":
                            store = app.bot_data["services"].follows
                            for chat_id in chats:
                                server.private_chat(server.user(chat_id))
                                store.follow(chat_id, FOLLOWED, limit=20)
                            (seeds / "news.txt").write_text(NEWS, encoding="utf-8")
                            await asyncio.to_thread(retriever.reload)
                            await server.wait_for(lambda: server.sent_to(first), 120, "a push")
                        user = server.user(2)
                        message = server.send_text(server.private_chat(user), user, ANSWERABLE[0])
                        reply = await server.wait_reply(message, timeout=120)
                        sent = server.enqueued_at[server.update_id_of(message)]
                        waits[kind].append(reply.at - sent)
                        if kind == "pushes":
                            during.append(sum(1 for c in chats if server.sent_to(c)))
                            await server.wait_for(
                                lambda c=chats: all(server.sent_to(n) for n in c), 120, "pushes"
                            )
                retriever.stop()
        print(
            f"round {round_ + 1}: quiet {waits['quiet'][-1] * 1000:.0f} ms, while pushing "
            f"{waits['pushes'][-1] * 1000:.0f} ms ({during[-1]} of {args.pushes} pushes sent "
            "before the answer)",
            flush=True,
        )
    print(
        f"another user's answer, median of {args.rounds}: "
        f"{statistics.median(waits['quiet']) * 1000:.0f} ms without pushes, "
        f"{statistics.median(waits['pushes']) * 1000:.0f} ms while {args.pushes} chats get a push"
    )
    return 0


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--questions", type=int, default=10, help="questions per user")
    parser.add_argument("--timeout", type=float, default=300, help="give up after this (s)")
    parser.add_argument("--workers", type=int, default=0, help="retrieval threads (0: config)")
    parser.add_argument("--config", type=Path, help="YAML config (default: config/default.yaml)")
    parser.add_argument(
        "--subprocess",
        action="store_true",
        help="run the bot as `python -m bot telegram` in its own process (stopped by SIGTERM)",
    )
    parser.add_argument(
        "--flood",
        type=int,
        default=0,
        help="instead: one user sends this many /help, a stranger two thirds as many messages, "
        "and another user's answer is timed against a quiet bot",
    )
    parser.add_argument(
        "--pushes",
        type=int,
        default=0,
        help="instead: this many chats follow a topic a new article matches, and another "
        "user's answer is timed while their pushes go out, against a bot with no pushes",
    )
    parser.add_argument("--rounds", type=int, default=5, help="--flood, --pushes: rounds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.flood:
        return asyncio.run(flood_async(args, load_config(args.config)))
    if args.pushes:
        return asyncio.run(pushes_async(args, load_config(args.config)))
    return asyncio.run(main_async(args, load_config(args.config)))


if __name__ == "__main__":
    sys.exit(main())
