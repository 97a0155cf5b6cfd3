"""The expert registry: shipped default, user YAML, errors."""

from __future__ import annotations

from pathlib import Path

import pytest

from experts.base import Expert
from experts.registry import SHIPPED_REGISTRY, load_experts, load_registry
from tests.experts.tiny_models import write_registry


def test_shipped_registry_finds_the_shipped_models(home: Path) -> None:
    import yaml

    specs = {s.name: s for s in load_registry(SHIPPED_REGISTRY)}
    # The generalist with the numbers expert; the retired specialists stay listed, disabled;
    # names and negations read the spans only (unrouted).
    assert set(specs) == {"nli-general", "numbers"}
    unrouted = {s.name for s in load_registry(SHIPPED_REGISTRY, include_unrouted=True)}
    assert unrouted - set(specs) == {"entities", "negation", "alignment"}
    entries = {e["name"]: e for e in yaml.safe_load(SHIPPED_REGISTRY.read_text())["experts"]}
    assert {n for n, e in entries.items() if e.get("enabled") is False} == {
        "nli-qa",
        "nli-long",
        "similarity",
    }
    for entry in entries.values():
        if entry["kind"] == "cross_encoder":
            assert (Path(__file__).parents[2] / entry["weights"] / "config.json").exists()


def test_shipped_registry_works_without_trained_models(
    home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import experts.registry as registry

    # No models anywhere: not next to the registry, not in the repository, not in HOME.
    registry_file = tmp_path / "registry.yaml"
    registry_file.write_text(SHIPPED_REGISTRY.read_text())
    monkeypatch.setattr(registry, "REPO_ROOT", tmp_path / "no-repo")
    specs = {s.name: s for s in load_registry(registry_file, include_unrouted=True)}
    assert not any(s.kind == "cross_encoder" for s in specs.values())  # skipped, with a warning
    assert "weights folder" in caplog.text
    assert {"numbers", "entities", "negation"} <= set(specs)
    experts = load_experts(["numbers"], registry=registry_file)
    assert set(experts) == {"numbers"}
    assert all(isinstance(e, Expert) for e in experts.values())


def test_user_adds_a_domain_expert_by_yaml(home: Path, tmp_path: Path) -> None:
    reg = write_registry(
        tmp_path / "r.yaml",
        [
            {"name": "similarity", "kind": "similarity"},
            {
                "name": "finance-numbers",
                "kind": "numbers",
                "domains": ["finance"],
                "keywords": ["revenue", "profit"],
                "options": {"min_alignment": 0.5},
            },
            {"name": "off", "kind": "negation", "enabled": False},
        ],
    )
    specs = load_registry(reg)
    assert [s.name for s in specs] == ["similarity", "finance-numbers"]
    fin = specs[1]
    assert fin.keyword_hits("Revenue and PROFIT rose") == 2
    assert fin.keyword_hits("profitable") == 0  # whole words only
    expert = load_experts(["finance-numbers"], registry=reg)["finance-numbers"]
    assert expert.name == "finance-numbers" and expert.domains == ("finance",)
    assert expert.min_alignment == 0.5


def test_errors_name_the_entry_and_rule(home: Path, tmp_path: Path) -> None:
    bad_kind = write_registry(tmp_path / "a.yaml", [{"name": "x", "kind": "oracle"}])
    with pytest.raises(ValueError, match="entry 0 is invalid"):
        load_registry(bad_kind)
    dup = write_registry(
        tmp_path / "b.yaml", [{"name": "x", "kind": "numbers"}, {"name": "x", "kind": "negation"}]
    )
    with pytest.raises(ValueError, match="entry 1: duplicate name 'x'"):
        load_registry(dup)
    (tmp_path / "c.yaml").write_text("- just a list\n")
    with pytest.raises(ValueError, match="'experts' list"):
        load_registry(tmp_path / "c.yaml")
    good = write_registry(tmp_path / "d.yaml", [{"name": "n", "kind": "numbers"}])
    with pytest.raises(KeyError, match="nope"):
        load_experts(["nope"], registry=good)


def test_setting_selects_the_registry(home: Path, tmp_path: Path, monkeypatch) -> None:
    from verdictflow.config import reset_settings

    reg = write_registry(tmp_path / "only.yaml", [{"name": "only-neg", "kind": "negation"}])
    monkeypatch.setenv("VERDICTFLOW_EXPERTS__REGISTRY", str(reg))
    reset_settings()
    assert [s.name for s in load_registry()] == ["only-neg"]


def test_an_edited_registry_is_read_again(home: Path, tmp_path: Path) -> None:
    reg = write_registry(tmp_path / "r.yaml", [{"name": "neg", "kind": "negation"}])
    assert [s.name for s in load_registry(reg)] == ["neg"]
    assert load_registry(reg) == load_registry(reg)  # parsed once, same answer
    write_registry(reg, [{"name": "neg", "kind": "negation"}, {"name": "num", "kind": "numbers"}])
    assert [s.name for s in load_registry(reg)] == ["neg", "num"]


def test_an_expert_retrained_in_place_is_built_again(home: Path, tmp_path: Path) -> None:
    import os

    from experts.registry import cached_expert
    from tests.experts.tiny_models import make_tiny_cross_encoder

    tiny = make_tiny_cross_encoder(tmp_path / "tiny")
    reg = str(
        write_registry(
            tmp_path / "r.yaml", [{"name": "t", "kind": "cross_encoder", "weights": str(tiny)}]
        )
    )
    first = cached_expert("t", reg)
    assert cached_expert("t", reg) is first  # built once
    make_tiny_cross_encoder(tiny, seed=9)  # new weights in the same folder
    weights = tiny / "model.safetensors"
    stat = weights.stat()
    os.utime(weights, ns=(stat.st_atime_ns, stat.st_mtime_ns + 10**9))
    again = cached_expert("t", reg)
    assert again is not first
    pair = [("The sky is blue.", "The sky is green.")]
    assert not (again.predict(pair) == first.predict(pair)).all()


def test_clearing_the_expert_cache_builds_experts_anew(home: Path, tmp_path: Path) -> None:
    from experts.registry import cached_expert, clear_expert_cache

    reg = str(write_registry(tmp_path / "r.yaml", [{"name": "n", "kind": "numbers"}]))
    first = cached_expert("n", reg)
    assert cached_expert("n", reg) is first
    clear_expert_cache()
    assert cached_expert("n", reg) is not first
