"""The end-to-end speed benchmark at a tiny scale: it runs and writes figures that add up."""

from __future__ import annotations

import json

import pytest

from benchmarks.e2e_speed import _parse_variant, markdown, run
from verdictflow.config import get_settings


def test_a_variant_names_its_settings_overrides() -> None:
    assert _parse_variant("default") == ("default", {})
    name, env = _parse_variant("w3:retrieval.windows_per_claim=3, experts.gate_sure_margin=0.2")
    assert name == "w3"
    assert env == {"RETRIEVAL__WINDOWS_PER_CLAIM": "3", "EXPERTS__GATE_SURE_MARGIN": "0.2"}


def test_unknown_kinds_are_refused(tmp_path) -> None:
    with pytest.raises(ValueError, match="unknown kinds"):
        run(kinds=["everything"], out=tmp_path)


@pytest.mark.slow
def test_short_and_retrieval_items_run_end_to_end(home, tmp_path) -> None:
    if get_settings().training.corpus_dir is None:
        pytest.skip("no verification corpus beside the checkout")
    result = run(
        kinds=["short", "retrieval"],
        items=6,
        docs=20,
        sources=["nlids_fracas"],
        batch=4,
        variants=["default", "one:experts.gate_top_k=1"],
        cold_runs=0,
        out=tmp_path / "results",
    )
    written = json.loads((tmp_path / "results" / "e2e_speed.json").read_text())
    assert written["ingest"]["docs"] == 20
    for kind in ("short", "retrieval"):
        default, one = written["kinds"][kind]["default"], written["kinds"][kind]["one"]
        for f in (default, one):
            assert f["items"] == f["verdicts"] == 6 and f["claims"] >= 6
            assert f["pairs"] == sum(f["pairs_by_expert"].values()) > 0
            assert f["bare_s"] > 0 and f["pairs_per_s"] > 0 and f["ratio"] > 0
            assert "evidence_for" in f["stages_s"]
        assert one["pairs_routed"] < default["pairs_routed"]  # one expert a pair, not two
    assert "| short | default | 6 |" in markdown(result)
