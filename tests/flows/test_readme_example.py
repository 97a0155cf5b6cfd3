"""The README's Python example, run as a user runs it: a plain script, no main guard."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


@pytest.mark.slow
def test_the_readme_example_runs_as_a_plain_script(tmp_path: Path) -> None:
    readme = (ROOT / "README.md").read_text(encoding="utf-8")
    example = re.search(r"## Python API\n\n```python\n(.*?)```", readme, re.S).group(1)
    assert "__main__" not in example  # as printed: no guard
    script = tmp_path / "example.py"
    script.write_text(example, encoding="utf-8")
    env = {
        **os.environ,
        "VERDICTFLOW_HOME": str(tmp_path / "home"),
        "PYTHONPATH": str(ROOT),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
    }
    done = subprocess.run(
        [sys.executable, str(script)],
        cwd=tmp_path,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    lines = done.stdout.split("\n")
    verdicts = dict(line.split(" ", 1) for line in lines if line.startswith(("a1 ", "a2 ")))
    assert set(verdicts) == {"a1", "a2"}, done.stdout
    assert verdicts["a1"].startswith("contradicted")  # 310 grams against 254
    assert "Nanny failed" not in done.stderr
