"""`newsbot index --ray ADDRESS`: the build's embedding on a Ray cluster (a head and its workers
started on this machine with `ray start`, on 127.0.0.1) gives the index a single process gives,
and a cluster that is not there is one line, not minutes of retries."""

from __future__ import annotations

import json
import os
import secrets
import shutil
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

from tests.test_cli import ROOT

pytest.importorskip("ray", reason="the ray extra is not installed (pip install -e '.[ray]')")
RAY = Path(sys.executable).with_name("ray")
QUESTIONS = (
    "Who did President Tokayev order to be arrested?",
    "How many Russian soldiers arrived in Kazakhstan?",
    "What did the central bank do with interest rates?",
)
STORY = (
    "date 1987-03-{day:02d} Central bank {n} moves rates\n\n"
    "The central bank of country {n} cut its discount rate by half a point on Monday, "
    "saying inflation had slowed for a {word} month.\n\n"
    "Analysts said the cut of country {n} was expected after weak export figures.\n"
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def cluster() -> str:
    """A Ray head with two worker CPUs on 127.0.0.1, token-authenticated as Ray's default is."""
    # Short: Ray's unix sockets live under it, and socket paths are limited to 107 bytes.
    folder = tempfile.mkdtemp(prefix="ray", dir="/tmp")
    env = {
        **os.environ,
        "RAY_TMPDIR": folder,
        "RAY_AUTH_MODE": "token",
        "RAY_AUTH_TOKEN": secrets.token_hex(16),
    }
    os.environ.update({k: env[k] for k in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN")})
    port = free_port()
    start = [
        str(RAY), "start", "--head", f"--port={port}", "--node-ip-address=127.0.0.1",
        "--num-cpus=2", "--include-dashboard=false", "--disable-usage-stats",
    ]  # fmt: skip
    subprocess.run(start, env=env, capture_output=True, timeout=180, check=True)
    try:
        yield f"127.0.0.1:{port}"
    finally:
        subprocess.run([str(RAY), "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(folder, ignore_errors=True)
        for key in ("RAY_AUTH_MODE", "RAY_AUTH_TOKEN"):
            os.environ.pop(key, None)


def project(tmp_path: Path, name: str) -> Path:
    """The bundled article and twelve short stories, with a cache folder of its own."""
    seeds = tmp_path / "seeds"
    if not seeds.exists():
        shutil.copytree(ROOT / "seeds", seeds)
        for n in range(12):
            word = ("second", "third", "fourth")[n % 3]
            (seeds / f"bank{n}.txt").write_text(STORY.format(day=n + 2, n=n, word=word))
    config = tmp_path / f"{name}.yaml"
    config.write_text(
        f"corpus:\n  seeds_dir: {seeds}\n  cache_dir: {tmp_path / name}\n"
        "retrieval:\n  model: all-MiniLM-L6-v2\n"
    )
    (tmp_path / name).mkdir()
    return config


def bot(*args: str, stdin: str = "") -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT, input=stdin, capture_output=True, text=True, timeout=600,
        env={**os.environ, "HF_HUB_OFFLINE": "1"},
    )  # fmt: skip


def generation(cache: Path) -> Path:
    (folder,) = (cache / "index").glob("*/g-*")
    return folder


def test_a_build_on_the_cluster_equals_one_in_this_process(cluster, tmp_path):
    here, spread = project(tmp_path, "here"), project(tmp_path, "spread")
    local = bot("index", "--config", str(here))
    assert local.returncode == 0, local.stderr
    remote = bot("index", "--config", str(spread), "--ray", cluster)
    assert remote.returncode == 0, remote.stderr
    assert "Index built: 13 articles" in remote.stdout
    one, two = generation(tmp_path / "here"), generation(tmp_path / "spread")
    # Every file the same, byte for byte, but the nearest-sentence graph, which differs between
    # two builds in one process too (its insertion runs on threads), and the meta file holding
    # that graph's checksum.
    names = sorted(p.name for p in one.iterdir())
    assert names == sorted(p.name for p in two.iterdir())
    for name in names:
        if name not in ("ann.usearch", "meta.json"):
            assert (one / name).read_bytes() == (two / name).read_bytes(), name
    asked = "\n".join(QUESTIONS) + "\n"
    answers = [
        [json.loads(line) for line in bot("ask", "--json", "--config", str(c), "-", stdin=asked)
         .stdout.splitlines()]
        for c in (here, spread)
    ]  # fmt: skip
    assert len(answers[0]) == len(QUESTIONS) and all(a["answered"] for a in answers[0])
    assert answers[0] == answers[1]


def test_a_cluster_that_is_not_there_is_one_line(tmp_path):
    config = project(tmp_path, "nowhere")
    run = bot("index", "--config", str(config), "--ray", f"127.0.0.1:{free_port()}")
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1, run.stderr
    assert "cannot reach the Ray cluster at 127.0.0.1:" in run.stderr
    assert not list((tmp_path / "nowhere").glob("index/*/g-*"))  # nothing half-built
