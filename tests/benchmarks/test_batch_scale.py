"""The batch-scale benchmark at a tiny scale: it runs the CLI and writes figures that add up."""

from __future__ import annotations

import json

import pytest

from benchmarks import workload
from benchmarks.batch_scale import is_true, main, ratios, records


def test_records_do_not_repeat_up_to_two_passes_over_the_products() -> None:
    rows = records(2 * workload.PRODUCTS)
    assert len({r["text"] for r in rows}) == len(rows)
    assert all(set(r) == {"id", "text"} for r in rows)  # no context, no gold label
    assert sum(is_true(j) for j in range(len(rows))) == workload.PRODUCTS


def test_ratios_are_largest_over_smallest_and_dask_over_process() -> None:
    def figures(mode: str, size: int, rate: float) -> dict:
        return {"mode": mode, "size": size, "claims_per_s": rate, "claims_per_s_wall": rate}

    runs = [
        figures("process", 10, 10.0),
        figures("dask2", 10, 12.0),
        figures("process", 100, 9.0),
        figures("dask2", 100, 12.0),
    ]
    got = {x["what"]: (x["ratio"], x["met"]) for x in ratios(runs)}
    assert got == {
        "process: 100 / 10 items": (0.9, True),
        "dask2: 100 / 10 items": (1.0, True),
        "10 items: dask2 / process": (1.2, True),
        "100 items: dask2 / process": (1.333, True),
    }


def test_unknown_modes_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown modes"):
        main(["--sizes", "6", "--modes", "everything", "--json", str(tmp_path / "x.json")])


@pytest.mark.slow
def test_a_tiny_run_in_one_process_has_its_figures(tmp_path) -> None:
    paths = [tmp_path / "batch_scale.json", tmp_path / "batch_scale.md"]
    args = ["--sizes", "6", "--modes", "process", "--json", str(paths[0])]
    result = main([*args, "--markdown", str(paths[1])])
    assert json.loads(paths[0].read_text())["runs"] == result["runs"]
    assert result["corpus"]["docs"] == 6 and result["corpus"]["chunks"] >= 6
    [run] = result["runs"]
    assert (run["mode"], run["size"], run["items"]) == ("process", 6, 6)
    assert run["status"] == "completed" and run["path"] == "inline"  # 6 <= fast_path_max_items
    assert run["claims"] == run["claims_in_output"] >= 6
    assert sum(run["verdicts"].values()) == 6
    assert run["claims_per_s"] > 0 and run["claims_per_s_wall"] > 0
    assert 0 < run["run_s"] <= run["wall_s"]
    assert 0 < run["peak_rss_mb"]["cli"] <= run["peak_rss_mb"]["tree"]
    assert run["rss_samples"] > 0 and 0 <= run["agree_with_truth"] <= 1
    assert run["progress"] == []  # one batch: no progress line
    assert result["ratios"] == []
    assert "| process | 6 |" in paths[1].read_text()
