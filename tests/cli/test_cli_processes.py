"""The installed ``verdictflow`` command run as a user runs it: a real process, its own home.

``db upgrade`` on a fresh PostgreSQL database, ``verdictflow demo`` with nothing set up
but an empty VERDICTFLOW_HOME (its own ephemeral Prefect API, the default Dask cluster, SQLite),
and ``verdictflow verify`` in a terminal (a pseudo-terminal): only its own output shows.
"""

from __future__ import annotations

import json
import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import fresh_database
from verdictflow.contracts import LABEL_NAMES

REPO = Path(__file__).resolve().parents[2]
CLI = REPO / ".venv" / "bin" / "verdictflow"
DEMO = REPO / "examples" / "demo"


def user_env(home: Path, **extra: str) -> dict[str, str]:
    """A user's shell: none of the test session's verdictflow or Prefect settings."""
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("VERDICTFLOW_", "PREFECT_", "PYTEST_"))
    }
    env.update(
        VERDICTFLOW_HOME=str(home),
        PREFECT_HOME=str(home.parent / "prefect-home"),  # not the user's ~/.prefect
        PREFECT_SERVER_ANALYTICS_ENABLED="false",  # as the Makefile exports
        COLUMNS="160",
        **extra,
    )
    return env


def _cli(args: list[str], env: dict[str, str], timeout: float) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(CLI), *args],
        cwd=REPO,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def _in_terminal(args: list[str], env: dict[str, str], timeout: float) -> tuple[int, str]:
    """The CLI with a pseudo-terminal as its stdin, stdout and stderr, as a person runs it
    (libraries print some things to terminals only); its exit status and all it wrote."""
    master, terminal = pty.openpty()
    process = subprocess.Popen(
        [str(CLI), *args], cwd=REPO, env=env, stdin=terminal, stdout=terminal, stderr=terminal
    )
    os.close(terminal)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if select.select([master], [], [], 1)[0]:
                try:
                    data = os.read(master, 65536)
                except OSError:  # EIO: every end of the terminal is closed, the CLI is done
                    break
                if not data:
                    break
                chunks.append(data)
            elif process.poll() is not None:
                break
        else:
            process.kill()
            pytest.fail(f"verdictflow {' '.join(args)} still running after {timeout} s")
    finally:
        os.close(master)
    return process.wait(timeout=30), b"".join(chunks).decode(errors="replace")


# What tells Prefect it runs in CI (then it prints nothing): a person's terminal has none.
CI_VARIABLES = ("CI", "GITHUB_ACTIONS", "GITLAB_CI", "JENKINS_URL", "BUILDKITE", "CI_NAME")


@pytest.mark.slow
@pytest.mark.timeout(600)
@pytest.mark.parametrize(
    ("terminal", "verbose", "flow_run"),
    [(True, False, True), (True, True, True), (False, True, False)],
    ids=["terminal-flow-run", "terminal-verbose-flow-run", "pipes-verbose-in-process"],
)
def test_a_terminal_shows_no_usage_notice_and_no_weight_loading_bars(
    tmp_path: Path, terminal: bool, verbose: bool, flow_run: bool
) -> None:
    item = {
        "id": "aurora-weight",
        "text": "The Aurora X2 weigh 254 grams.",
        "context": "The Aurora X2 headphones weigh 254 grams and come with a hard case.",
    }
    path = tmp_path / "item.jsonl"
    path.write_text(json.dumps(item) + "\n")
    env = user_env(tmp_path / "home")  # a fresh PREFECT_HOME: Prefect's first-run notice is due
    for name in (*CI_VARIABLES, "DO_NOT_TRACK", "HF_HUB_DISABLE_PROGRESS_BARS", "TQDM_DISABLE"):
        env.pop(name, None)
    if flow_run:  # a run of the verify-items flow (Prefect, Dask workers), not the fast path
        env["VERDICTFLOW_VERIFY__FAST_PATH_MAX_ITEMS"] = "0"
    args = ["-v"] * verbose + ["verify", str(path)]
    if terminal:
        code, output = _in_terminal(args, env, timeout=540)
    else:  # no live progress bar then, which would otherwise swallow other bars
        done = _cli(args, env, timeout=540)
        code, output = done.returncode, done.stdout + done.stderr
    assert code == 0, output[-4000:]
    # It verified the item, loading the experts' weights (in this process on the fast path,
    # in a Dask worker in a flow run), where a bar would have been drawn.
    assert re.search(r"^run \S+: completed ", output, re.M), output[-4000:]
    assert "aurora-weight" in output
    assert "Loading weights" not in output, output[-4000:]
    assert "anonymous usage data" not in output and "DO_NOT_TRACK" not in output, output[:2000]


@pytest.mark.postgres
def test_db_upgrade_creates_the_schema_on_postgresql(tmp_path: Path) -> None:
    from storage.migrate import current_revision, head_revision, schema_diff
    from storage.models import Base

    home = tmp_path / "home"
    with fresh_database("verdictflow_cli_upgrade") as url:
        engine = sa.create_engine(url)
        try:
            assert sa.inspect(engine).get_table_names() == []
            env = user_env(home, VERDICTFLOW_DATABASE_URL=url)
            first = _cli(["db", "upgrade"], env, timeout=300)
            assert first.returncode == 0, first.stdout + first.stderr
            said = first.stdout + first.stderr  # messages go to stderr
            assert "up to date" in said
            assert url.split("@")[-1] in said  # it names the database it migrated
            tables = set(sa.inspect(engine).get_table_names())
            assert tables == set(Base.metadata.tables) | {"alembic_version"}
            assert current_revision(engine) == head_revision()
            assert schema_diff(engine) == []
            assert not (home / "verdictflow.db").exists()  # PostgreSQL, not the SQLite default
            # Again: nothing to do, nothing lost.
            from storage.repository import Repository

            repo = Repository(url)
            repo.start_run("r-1", "verify", {"k": 1}, "v1")
            repo.dispose()
            again = _cli(["db", "upgrade"], env, timeout=300)
            assert again.returncode == 0, again.stdout + again.stderr
            assert "up to date" in again.stdout + again.stderr
            with engine.connect() as conn:
                assert conn.execute(sa.text("SELECT run_id FROM runs")).scalars().all() == ["r-1"]
            assert current_revision(engine) == head_revision()
        finally:
            engine.dispose()


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_verdictflow_demo_runs_as_a_user_runs_it(tmp_path: Path) -> None:
    from deployments.cli import _short
    from storage.repository import Repository
    from tests.flows.test_demo import CHANGED_NUMBERS

    home = tmp_path / "home"
    result = _cli(["demo"], user_env(home), timeout=840)
    output = result.stdout + result.stderr
    assert result.returncode == 0, output[-4000:]
    items = [json.loads(line) for line in (DEMO / "items.jsonl").read_text().splitlines()]
    [(run_id, status)] = re.findall(r"^run (\S+): (\w+) \{", output, flags=re.M)
    # The demo items carry labels, so the batch gates include ECE; with no calibrator fitted
    # the run may end "quality_failed", which the user is told in plain words.
    assert status in {"completed", "quality_failed"}, output[-4000:]
    if status == "quality_failed":
        assert re.search(r"^Quality gate: .+; the run is marked quality_failed", output, re.M)
        assert "{'min_value'" not in output and "observed" not in output, output[-4000:]
    # The table: the flagged items and the false items that passed, each with its gold label
    # and what the verdict did; the true items that passed are counted above it.
    allowed = "supported|contradicted|unsupported|uncertain"
    checks = "caught|missed|false alarm|passed"
    rows = re.findall(
        rf"^\s*(\S+)\s+({allowed})\s+(\S+)\s+({checks})\s+[01]\.\d\d\s", result.stdout, re.M
    )
    shown = {item: (verdict, check) for item, verdict, _, check in rows}
    [hidden] = re.findall(r"; (\d+) true items that passed are not listed", output)
    assert len(shown) + int(hidden) == len(items)
    assert "passed" not in {check for _, check in shown.values()}
    assert {i for i in CHANGED_NUMBERS if shown.get(i, ("",))[0] != "contradicted"} == set()
    assert len(output.strip().splitlines()) <= 40, output
    # What it printed is what it stored, in the home it was given.
    repo = Repository(f"sqlite:///{home / 'verdictflow.db'}")
    try:
        run = repo.get_run(run_id)
        assert run["status"] == status and run["counts"]["items"] == len(items)
        stored = {v.item_id: v.label.value for v in repo.load_item_verdicts(run_id)}
        assert set(stored) == {i["id"] for i in items}
        gold = {i["id"]: LABEL_NAMES[i["label"]] for i in items}
        right = sum(LABEL_NAMES.get(stored[i]) == gold[i] for i in stored)
        [said] = re.findall(r"^Against the gold labels: (\d+) of (\d+) items right", output, re.M)
        assert said == (str(right), str(len(items)))
        expected = {}
        for item_id, verdict in stored.items():
            false, flagged = gold[item_id] != LABEL_NAMES["supported"], verdict != "supported"
            check = {
                (True, True): "caught",
                (True, False): "missed",
                (False, True): "false alarm",
            }.get((false, flagged))
            if check:
                expected[_short(item_id, 24)] = (verdict, check)
        assert shown == expected
        ingests = [r for r in repo.list_runs(kind="ingest") if r["status"] == "completed"]
        assert len(ingests) == 1 and ingests[0]["counts"]["new"] == len(
            list((DEMO / "corpus").iterdir())
        )
    finally:
        repo.dispose()
    assert (home / "lancedb").is_dir()
