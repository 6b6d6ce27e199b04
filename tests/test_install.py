"""What `make install` shows: one line per step with its time, pip's output only on failure."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
STEP = ROOT / "scripts" / "step.sh"


def step(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["sh", str(STEP), *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_a_step_is_one_line_with_its_time():
    result = step("torch 2.13.0", "sh", "-c", "echo 'Collecting torch'; echo warning >&2")
    assert result.returncode == 0
    assert re.fullmatch(r"install: torch 2\.13\.0 \(\d+ s\)\n", result.stdout)
    assert result.stderr == ""


def test_a_failed_step_shows_its_output_and_status():
    result = step("newsbot", "sh", "-c", "echo 'No matching distribution'; exit 3")
    assert result.returncode == 3
    assert re.fullmatch(
        r"install: newsbot failed \(exit 3\) after \d+ s; its output:\nNo matching distribution\n",
        result.stdout,
    )


def test_every_install_step_of_the_makefile_goes_through_the_helper():
    makefile = (ROOT / "Makefile").read_text(encoding="utf-8")
    recipe = makefile.split("$(STAMP): pyproject.toml\n", 1)[1].split("\n\n", 1)[0]
    pip_lines = [line for line in recipe.splitlines() if "pip install" in line]
    assert len(pip_lines) == 3
    assert all(line.startswith('\t@$(STEP) "') and " -q " in line for line in pip_lines)
