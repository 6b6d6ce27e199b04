"""`newsbot import SOURCE... [--out DIR]`: news in other formats written as seed files.

Every bad item and every source that cannot be read is one line on standard error; the rest
is imported, and a summary line ends the run on standard output."""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from bot.ingest import FORMATS

if TYPE_CHECKING:  # imported when the command runs: every other command parses these options
    from bot.ingest.sources import Fields
    from bot.ingest.writer import SeedWriter

UNREADABLE = 2  # exit code when a source could not be read at all (the others are imported)


def add_import_parser(
    commands: argparse._SubParsersAction, common: argparse.ArgumentParser
) -> None:
    """The `import` command's options."""
    parser = commands.add_parser(
        "import",
        parents=[common],
        help="write news from feeds, JSON Lines, CSV, HTML pages or"
        " Reuters-21578 SGML into the seeds folder",
    )
    parser.add_argument("sources", nargs="+", metavar="SOURCE", help="a file or an http(s) URL")
    parser.add_argument(
        "--out",
        type=Path,
        metavar="DIR",
        help="the folder to write into (default: the seeds folder)",
    )
    parser.add_argument(
        "--format", choices=FORMATS, help="how to read every SOURCE (default: by name or content)"
    )
    for part in ("title", "date", "text", "url"):
        parser.add_argument(
            f"--{part}-field",
            default=part,
            metavar="NAME",
            help=f"JSON Lines key or CSV column of the {part} (default: {part})",
        )


@dataclass
class Tally:
    written: list[str] = field(default_factory=list)
    duplicates: int = 0
    bad: int = 0
    unreadable: int = 0

    def summary(self, folder: Path) -> str:
        n = len(self.written)
        return (
            f"Imported {n:,} article{'' if n == 1 else 's'} into {folder}; skipped"
            f" {self.duplicates:,} duplicate{'' if self.duplicates == 1 else 's'},"
            f" {self.bad:,} bad item{'' if self.bad == 1 else 's'}"
            + (f"; {self.unreadable} source(s) not read" if self.unreadable else "")
            + "."
        )


def import_sources(
    sources: list[str], writer: SeedWriter, fields: Fields, kind: str | None = None
) -> Tally:
    """Read every source into the writer's folder; problems go to stderr, one line each."""
    from bot.ingest.items import BadItem
    from bot.ingest.sources import SourceError, read_source
    from bot.ingest.writer import Duplicate, Written

    tally = Tally()
    for source in sources:
        try:
            for item in read_source(source, fields, kind):
                outcome = item if isinstance(item, BadItem) else writer.add(item)
                if isinstance(outcome, Written):
                    tally.written.append(outcome.name)
                elif isinstance(outcome, Duplicate):
                    tally.duplicates += 1
                else:
                    tally.bad += 1
                    print(f"newsbot: skipped {outcome}", file=sys.stderr)
        except SourceError as exc:
            tally.unreadable += 1
            print(f"newsbot: cannot import {exc}", file=sys.stderr)
    return tally


def run_import(args: argparse.Namespace, config) -> int:  # noqa: ANN001 - AppConfig
    from bot.ingest.sources import Fields
    from bot.ingest.writer import SeedWriter
    from bot.runtime import check_folder, seeds_setting

    if args.out is not None:
        from bot.config import PathSetting

        setting = PathSetting("--out", args.out, args.out.expanduser(), True)
    else:
        setting = seeds_setting(config, args.seeds)
    folder = check_folder(setting, "seeds folder")
    fields = Fields(args.title_field, args.date_field, args.text_field, args.url_field or None)
    tally = import_sources(args.sources, SeedWriter(folder), fields, args.format)
    print(tally.summary(folder))
    return UNREADABLE if tally.unreadable else 0
