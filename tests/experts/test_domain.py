"""Domain experts: a tiny one trained on a tiny corpus, registered, routed to; bad corpora."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from tests.experts.domain_corpus import BANK, bank_home_setup


@pytest.fixture
def bank_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    return bank_home_setup(home, tmp_path, monkeypatch)


@pytest.fixture
def trained(bank_home: dict) -> dict:
    from experts.training.domain import train_domain_expert
    from experts.training.domain_data import corpus_from_paths

    docs = corpus_from_paths([bank_home["corpus"]])
    source = {"paths": [str(bank_home["corpus"])]}
    summary = train_domain_expert("banking", docs, minutes=5, source=source, log=lambda _: None)
    return {**bank_home, "summary": summary}


def test_a_tiny_domain_expert_learns_and_is_registered(trained: dict) -> None:
    from experts.registry import domain_registry_file, load_registry

    summary = trained["summary"]
    losses = [h["train_loss"] for h in summary["history"]]
    assert len(losses) >= 2 and losses[-1] < losses[0], losses
    assert summary["documents"] == {"test": 1, "dev": 1, "train": 3}
    assert summary["pairs"]["train"] > 0 and summary["transforms"]["identity"] > 0
    assert "retrieved_other" in summary["transforms"]
    # Registered without touching the registry in force: HOME's domain registry.
    entry = {s.name: s for s in load_registry()}["banking"]
    assert entry.domains == ("banking",) and entry.weights == Path(summary["path"]).resolve()
    assert domain_registry_file().read_text().count("name: banking") == 1
    assert trained["registry"].read_text().count("banking") == 0
    profile = json.loads((Path(summary["path"]) / "domain.json").read_text())
    assert profile["corpus_sha256"] == summary["corpus_sha256"]
    assert sorted(profile["doc_ids"]) == sorted(BANK)
    card = (Path(summary["path"]) / "model_card.md").read_text()
    assert summary["corpus_sha256"] in card and "retrieved_other" in card


def test_the_test_documents_were_never_trained_on(bank_home: dict) -> None:
    from experts.training import domain_data

    docs = domain_data.corpus_from_paths([bank_home["corpus"]])
    pairs = domain_data.domain_pairs(docs)
    parts = domain_data.split_documents(docs["doc_id"].tolist())
    frames = domain_data.split_pairs(pairs, parts)
    train_text = " ".join(frames["train"]["evidence"])
    for window in frames["test"]["evidence"]:
        assert window not in train_text
    assert not set(frames["train"]["group"]) & set(frames["test"]["group"])
    assert not pairs.duplicated(["evidence", "claim"]).any()


def test_a_claim_of_the_corpus_is_routed_to_the_domain_expert(trained: dict) -> None:
    from experts.mixture.scoring import Scorer
    from verdictflow.contracts import Claim, Evidence

    def claim(cid: str, text: str, doc: str, evidence: str) -> tuple[Claim, list[Evidence]]:
        c = Claim(item_id=cid, claim_id=f"{cid}:0", index=0, text=text, start=0, end=len(text))
        origin = "context" if doc.startswith("context:") else "corpus"
        ev = Evidence(
            claim_id=c.claim_id,
            doc_id=doc,
            chunk_id=f"{doc}#0",
            text=evidence,
            score=1.0,
            rank=1,
            origin=origin,
        )
        return c, [ev]

    in_corpus = claim(
        "a", "The debit card costs 15 EUR a year.", "cards.md", BANK["cards.md"][:120]
    )
    elsewhere = claim(
        "b",
        "The Eiffel Tower was finished in 1889 for the World's Fair.",
        "context:b",
        "The Eiffel Tower in Paris was completed in 1889 as the entrance to the World's Fair.",
    )
    # Near the corpus by its words, checked against the (new) corpus: routed by the centroid;
    # the same claim with an item's own context is judged by that context, without it.
    text = "A lost Fjordbank card is blocked at once when you call the service line."
    near_corpus = claim("c", text, "news.md", "Call the service line to block a lost card.")
    own_context = claim("d", text, "context:d", "Call the service line to block a lost card.")
    pairs = (in_corpus, elsewhere, near_corpus, own_context)
    result = Scorer().score([c for c, _ in pairs], {c.claim_id: ev for c, ev in pairs})
    by_claim = {s.claim_id: s for s in result.scores}
    assert "banking" in by_claim["a:0"].experts  # named in the verdict, with its weight
    assert "banking" in by_claim["c:0"].experts
    assert "banking" not in by_claim["b:0"].experts
    assert "banking" not in by_claim["d:0"].experts
    assert result.report["routed"]["banking"] == 2


def test_the_domain_term_changes_only_the_domains_pairs() -> None:
    from experts.mixture.domain_terms import DomainStacker, fit_domain_term
    from experts.mixture.stacking import fit_stacker

    rng = np.random.default_rng(0)
    n = 400
    names = ["general", "banking"]
    general = rng.uniform(size=n)
    domain = rng.uniform(size=n)
    routed = rng.uniform(size=n) < 0.5
    y = np.where(routed, domain > 0.5, general > 0.5)
    cheap = rng.normal(size=(n, 2))

    def features(mask: np.ndarray) -> np.ndarray:
        g = np.column_stack([np.ones(n), general, 1 - general, np.zeros(n)])
        d = mask[:, None] * np.column_stack([np.ones(n), domain, 1 - domain, np.zeros(n)])
        return np.concatenate([g, d, cheap], axis=1)

    base_x = np.concatenate([features(routed)[:, :4], cheap], axis=1)
    base = fit_stacker(base_x, y, ["general"])
    term = fit_domain_term(base, names, "banking", features(routed), y)
    combined = DomainStacker(base, names, [term])
    p = combined.p_supported(features(routed))
    assert np.allclose(p[~routed], base.p_supported(base_x)[~routed])
    from sklearn.metrics import roc_auc_score

    assert (
        roc_auc_score(y[routed], p[routed])
        > roc_auc_score(y[routed], base.p_supported(base_x)[routed]) + 0.2
    )


def test_bad_corpora_get_a_clear_error(bank_home: dict, tmp_path: Path) -> None:
    from experts.training.domain import train_domain_expert
    from experts.training.domain_data import DomainCorpusError, corpus_from_paths

    empty = tmp_path / "empty"
    empty.mkdir()
    with pytest.raises(DomainCorpusError, match="no readable document"):
        corpus_from_paths([empty])
    binary = tmp_path / "binary"
    binary.mkdir()
    (binary / "blob.txt").write_bytes(b"\x00\x01\x02" * 100)
    with pytest.raises(DomainCorpusError, match="rule binary"):
        corpus_from_paths([binary])
    with pytest.raises(DomainCorpusError, match="no such file"):
        corpus_from_paths([tmp_path / "nowhere"])
    one = tmp_path / "one"
    one.mkdir()
    (one / "only.md").write_text(BANK["cards.md"])
    docs = corpus_from_paths([one])
    with pytest.raises(DomainCorpusError, match="min_documents: 1 document"):
        train_domain_expert("banking", docs, minutes=1, log=lambda _: None)
    with pytest.raises(ValueError, match="letters, digits"):
        train_domain_expert("bank ing", corpus_from_paths([bank_home["corpus"]]), minutes=1)


def test_a_name_of_the_registry_in_force_is_refused(bank_home: dict) -> None:
    from experts.registry import register_expert

    with pytest.raises(ValueError, match="taken"):
        register_expert({"name": "nli-general", "kind": "negation"})


def test_a_changed_corpus_makes_the_domain_stale(trained: dict) -> None:
    from experts.mixture.domains import stale_domains
    from experts.registry import load_registry
    from retrieval.ingest import ingest_paths
    from retrieval.store import ChunkStore

    store = ChunkStore()
    assert stale_domains(load_registry(), store, 0.2) == []  # not ingested: not judged
    ingest_paths([trained["corpus"]], store=store)
    assert stale_domains(load_registry(), store, 0.2) == []
    for name in ("cards.md", "loans.md"):
        path = trained["corpus"] / name
        path.write_text(path.read_text().replace("EUR", "NOK").replace("fee", "charge"))
    ingest_paths([trained["corpus"]], store=store)
    stale = stale_domains(load_registry(), store, 0.2)
    assert [s["name"] for s in stale] == ["banking"] and stale[0]["changed_share"] > 0.2


def test_experts_list_shows_the_domain_experts_corpus_and_age(trained: dict) -> None:
    import typer
    from typer.testing import CliRunner

    from deployments.cli_experts import register

    app = typer.Typer()
    register(app)
    result = CliRunner().invoke(app, ["experts", "list", "--json"])
    assert result.exit_code == 0, result.output
    rows = {e["name"]: e for e in json.loads(result.output)["experts"]}
    assert rows["banking"]["domain"]["corpus_sha256"] == trained["summary"]["corpus_sha256"]
    assert rows["banking"]["domain"]["age"].endswith(" h")
    assert rows["nli-general"]["domain"] is None


def test_a_corpus_from_the_store_is_the_filtered_documents_rebuilt_from_chunks(
    bank_home: dict, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from experts.training.domain_data import DomainCorpusError, corpus_from_store
    from retrieval.ingest import ingest_paths
    from retrieval.store import ChunkStore
    from verdictflow.config import reset_settings

    # Small chunks, so each document is rebuilt from several overlapping ones.
    monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__CHUNK_TOKENS", "24")
    monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__CHUNK_OVERLAP_TOKENS", "6")
    reset_settings()
    rows = [{"id": k, "text": v, "domain": "banking"} for k, v in BANK.items()]
    rows.append({"id": "tower", "text": "The Eiffel Tower is in Paris.", "domain": "travel"})
    table = tmp_path / "docs.jsonl"
    table.write_text("".join(json.dumps(r) + "\n" for r in rows))
    store = ChunkStore()
    ingest_paths([table], store=store)
    assert store.count({"domain": "banking"}) > len(BANK)
    docs = corpus_from_store({"domain": "banking"}, store=store)
    rebuilt = dict(zip(docs["doc_id"], docs["text"], strict=True))
    assert rebuilt == BANK
    with pytest.raises(DomainCorpusError, match="no chunk in the store matches"):
        corpus_from_store({"domain": "insurance"}, store=store)


def test_worse_than_the_generalist_names_both_figures() -> None:
    from experts.training.domain import worse_than_base

    assert worse_than_base({"domain_auroc": 0.91, "base_auroc": 0.9}) is None
    assert worse_than_base({"domain_auroc": 0.9, "base_auroc": 0.9}) is None
    assert worse_than_base({"domain_auroc": None, "base_auroc": 0.9}) is None  # one label
    why = worse_than_base({"domain_auroc": 0.61, "base_auroc": 0.72})
    assert why == "on its test documents AUROC 0.61 is below the generalist's 0.72"


def test_a_domain_expert_without_a_term_on_the_combiner_steps_aside_on_its_pairs_only(
    home: Path, tmp_path: Path
) -> None:
    from experts.mixture.domain_terms import DomainTerm, load_combiner
    from experts.mixture.stacking import fit_stacker, stack_features, stacked, stacker_file
    from experts.registry import ExpertSpec

    rng = np.random.default_rng(1)
    n, names = 60, ["general", "numbers", "banking"]
    cheap = rng.normal(size=(n, 2))
    base_names = names[:2]
    mask = np.zeros((n, 3), dtype=bool)
    mask[:, 0] = True
    mask[:20, 2] = True  # the domain's pairs
    outputs = {name: rng.dirichlet(np.ones(3), size=n) for name in names}
    base_x = stack_features(mask[:, :2], outputs, base_names, cheap)
    fit_stacker(base_x, rng.uniform(size=n) > 0.5, base_names).save(stacker_file())
    folder = tmp_path / "banking"
    folder.mkdir()
    specs = [
        ExpertSpec(name="general", kind="similarity"),
        ExpertSpec(name="numbers", kind="numbers"),
        ExpertSpec(name="banking", kind="cross_encoder", weights=folder, domain_only=True),
    ]
    mixed = rng.dirichlet(np.ones(3), size=n)
    features = stack_features(mask, outputs, names, cheap)
    for term in (None, DomainTerm("banking", "fitted-on-another", np.ones(4))):
        if term is not None:
            term.save(folder)
        combiner = load_combiner(names, specs)
        assert combiner is not None and combiner.aside == ["banking"]
        probs = stacked(combiner, mixed, features, mask, names)
        assert np.array_equal(probs[:20], mixed[:20])  # its pairs: the mixture
        alone = stacked(combiner.base, mixed[20:], base_x[20:], mask[20:, :2], base_names)
        assert np.allclose(probs[20:], alone)  # the others: the stacker, as without it
