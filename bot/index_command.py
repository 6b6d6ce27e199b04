"""`newsbot index`: build or update the index ahead of time, then prune other configurations'
index folders (--prune) or read every file of this one whole (--verify)."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from bot.terminal import output_width, wrap

INDEX_ERROR = 1  # the index could not be built (full disk), or --verify found it damaged


def add_index_parser(commands, common: argparse.ArgumentParser) -> None:  # noqa: ANN001
    """`newsbot index` and its options (commands: the subparsers action)."""
    index = commands.add_parser(
        "index", parents=[common], help="build or update the index of the seeds ahead of time"
    )
    index.add_argument(
        "--prune",
        action="store_true",
        help="then remove the index folders of other configurations that no running bot uses",
    )
    index.add_argument(
        "--verify",
        action="store_true",
        help="then read every file of the index whole (the check at start samples large ones)",
    )
    index.add_argument(
        "--ray",
        metavar="ADDRESS",
        help="embed on the Ray cluster at ADDRESS (host:port, ray://host:port, or local to start"
        " one here); needs the ray extra",
    )


def run_index(args: argparse.Namespace, config, program: str) -> int:  # noqa: ANN001 - AppConfig
    """Build or update the index, say what changed, then --prune or --verify (program: how
    the user called us, for the hint about --prune)."""
    from bot.progress import BuildReporter
    from bot.runtime import open_retriever
    from retrieval.live import LiveRetriever

    # Every stage with its rate and time left: on a terminal one line, otherwise log lines.
    retriever = open_retriever(
        config,
        seeds_dir=args.seeds,
        build_progress=BuildReporter(sys.stderr),
        ray_address=args.ray,
        write_engine=True,  # with index.engine: milvus, the articles are written there too
    )
    assert isinstance(retriever, LiveRetriever)  # write_engine: the folder's own index
    report = retriever.report
    if report.problem:  # the disk refused the update: the old index answers, but this failed
        from bot.progress import IndexBuildError

        raise IndexBuildError(report.problem)
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
    lines += _prune(key_folder) if args.prune else _others(key_folder, program)
    print(wrap("\n".join(lines), output_width(sys.stdout)))
    return _verify(retriever.index.folder) if args.verify else 0


def _verify(folder: Path) -> int:
    """Every file of the index in use read whole: a line saying so, or one per problem (exit 1)."""
    from retrieval.index.check import verify_generation

    problems = verify_generation(folder)
    for problem in problems:
        print(f"newsbot: index damaged: {problem}", file=sys.stderr)
    if problems:
        return INDEX_ERROR
    files = [f for f in folder.iterdir() if f.is_file()]
    size = sum(f.stat().st_size for f in files) / 2**20
    print(f"Index verified: {len(files)} files, {size:,.1f} MiB")
    return 0


def _others(key_folder: Path, program: str) -> list[str]:
    """A line about the index folders of other configurations, if there are any."""
    from retrieval.index.prune import folder_bytes, other_folders

    others = other_folders(key_folder.parent, key_folder)
    if not others:
        return []
    size = sum(folder_bytes(f) for f in others)
    one = len(others) == 1
    return [
        f"{len(others)} other index folder{'' if one else 's'} in {key_folder.parent}"
        f" ({size / 2**20:,.0f} MiB) {'belongs' if one else 'belong'} to other seeds folders,"
        f" models, settings or versions; `{program} index --prune` removes those no"
        " running bot uses, and an index is rebuilt from the embedding cache when needed."
    ]


def _prune(key_folder: Path) -> list[str]:
    """Remove the other configurations' index folders that no running bot uses."""
    from retrieval.index.prune import prune

    report = prune(key_folder.parent, key_folder)
    n = len(report.removed)
    lines = [
        f"Removed {n} other index folder{'' if n == 1 else 's'}"
        f" ({report.removed_bytes / 2**20:,.0f} MiB) from {key_folder.parent}."
    ]
    if report.in_use:
        names = ", ".join(f.name for f in report.in_use)
        lines.append(f"Kept {len(report.in_use)} in use by a running bot or build: {names}.")
    lines += [f"Cannot remove {folder}: {problem}." for folder, problem in report.failed]
    return lines
