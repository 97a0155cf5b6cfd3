"""The train-domain-expert flow on a real Prefect API, and ingest telling when a domain is stale."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from prefect.events.clients import AssertingEventsClient
from prefect.testing.fixtures import asserting_events_worker  # noqa: F401

from tests.experts.domain_corpus import bank_home_setup


@pytest.fixture
def bank_home(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    return bank_home_setup(home, tmp_path, monkeypatch)


def stale_events(worker) -> list:
    worker.wait_until_empty()
    events = [e for e in AssertingEventsClient.last.events if e.event == "verdictflow.domain.stale"]
    AssertingEventsClient.last.events.clear()
    return events


def test_the_flow_trains_ingest_finds_it_stale_and_a_rerun_by_name_retrains(
    prefect_harness,
    bank_home: dict,
    asserting_events_worker,  # noqa: F811
) -> None:
    from flows.ingest import ingest_documents
    from flows.train_domain import DomainCorpus, train_domain_expert

    corpus = bank_home["corpus"]
    first = train_domain_expert("banking", DomainCorpus(paths=[str(corpus)]), minutes=2)
    assert first["name"] == "banking" and first["steps"] > 0
    profile = Path(first["path"]) / "domain.json"
    assert json.loads(profile.read_text())["source"] == {"paths": [str(corpus)]}

    ingest_documents([str(corpus)])
    assert stale_events(asserting_events_worker) == []  # the corpus as it was trained on
    for name in ("cards.md", "loans.md", "branches.md"):
        path = corpus / name
        path.write_text(path.read_text().replace("EUR", "NOK").replace("Bergen", "Oslo"))
    ingest_documents([str(corpus)])
    [event] = stale_events(asserting_events_worker)
    assert event.resource.id == "verdictflow.domain.banking"
    assert event.payload["changed_share"] > 0.2
    assert event.payload["corpus_sha256"] == first["corpus_sha256"]

    # What the (disabled by default) trigger does: the flow with the expert's name only.
    again = train_domain_expert("banking")
    assert again["corpus_sha256"] != first["corpus_sha256"]  # it read the changed files
    ingest_documents([str(corpus)])
    assert stale_events(asserting_events_worker) == []


def test_the_cli_names_a_bad_corpus_and_exits_1(bank_home: dict, tmp_path: Path) -> None:
    import typer
    from typer.testing import CliRunner

    from deployments.cli_experts import register

    app = typer.Typer()
    register(app)
    one = tmp_path / "one"
    one.mkdir()
    (one / "only.md").write_text("A single document is not enough to split by document.")
    result = CliRunner().invoke(app, ["experts", "train-domain", "tiny", "--corpus", str(one)])
    assert result.exit_code == 1
    assert "tiny: corpus: rule min_documents: 1 document(s)" in result.output
    result = CliRunner().invoke(app, ["experts", "train-domain", "tiny"])
    assert result.exit_code == 2 and "--corpus" in result.output


# Own-context items of every kind: short and long contexts, numbers, names, negations.
OWN_CONTEXT = [
    (
        "tower",
        "The Eiffel Tower was finished in 1889.",
        "The Eiffel Tower in Paris was completed in 1889 as the entrance arch to the World's Fair.",
    ),
    (
        "tower-wrong",
        "The Eiffel Tower was finished in 1925.",
        "The Eiffel Tower in Paris was completed in 1889 as the entrance arch to the World's Fair.",
    ),
    (
        "river",
        "The Rhine flows into the North Sea.",
        "The Rhine rises in the Swiss Alps and "
        "flows north through Germany and the Netherlands into the North Sea.",
    ),
    (
        "river-not",
        "The Rhine does not reach the sea.",
        "The Rhine rises in the Swiss Alps and "
        "flows north through Germany and the Netherlands into the North Sea.",
    ),
    (
        "speaker",
        "The Fjell S1 plays for 20 hours.",
        "The Fjell S1 speaker plays for up to 20 hours on a charge and weighs 1.1 kilograms.",
    ),
    (
        "speaker-heavy",
        "The Fjell S1 weighs 3 kilograms.",
        "The Fjell S1 speaker plays for up to 20 hours on a charge and weighs 1.1 kilograms.",
    ),
    (
        "moon",
        "Apollo 11 landed on the Moon in July 1969.",
        "Apollo 11 was the first crewed "
        "mission to land on the Moon, on 20 July 1969, with Neil Armstrong and Buzz Aldrin.",
    ),
    (
        "moon-crew",
        "Apollo 11 was flown by Yuri Gagarin.",
        "Apollo 11 was the first crewed "
        "mission to land on the Moon, on 20 July 1969, with Neil Armstrong and Buzz Aldrin.",
    ),
    (
        "tea",
        "Green tea is not fermented.",
        "Green tea is made from leaves that are steamed or "
        "pan-fired soon after picking, so they are not oxidised or fermented like black tea.",
    ),
    (
        "train",
        "The night train leaves at 22:15 from platform 4.",
        "The night train to Narvik "
        "leaves Stockholm at 22:15 from platform 4 and arrives the next afternoon.",
    ),
    (
        "long",
        "The report was published by the city council.",
        " ".join(
            ["The city council published its annual report on public transport in March."]
            + [
                f"Section {i} of the report describes bus line {i} and its {10 + i} stops."
                for i in range(40)
            ]
        ),
    ),
]


CAPITALS = [
    ("Norway", "Oslo"),
    ("Sweden", "Stockholm"),
    ("Finland", "Helsinki"),
    ("Iceland", "Reykjavik"),
    ("Portugal", "Lisbon"),
    ("Austria", "Vienna"),
    ("Hungary", "Budapest"),
    ("Ireland", "Dublin"),
    ("Greece", "Athens"),
    ("Poland", "Warsaw"),
    ("Estonia", "Tallinn"),
    ("Latvia", "Riga"),
    ("Lithuania", "Vilnius"),
    ("Spain", "Madrid"),
    ("Italy", "Rome"),
    ("France", "Paris"),
    ("Belgium", "Brussels"),
    ("Denmark", "Copenhagen"),
    ("Croatia", "Zagreb"),
    ("Slovakia", "Bratislava"),
    ("Romania", "Bucharest"),
    ("Bulgaria", "Sofia"),
    ("Serbia", "Belgrade"),
    ("Slovenia", "Ljubljana"),
    ("Albania", "Tirana"),
    ("Malta", "Valletta"),
    ("Cyprus", "Nicosia"),
    ("Czechia", "Prague"),
]
# Plain claims (no number, name pattern or negation; every third one wrong): most pairs want
# the same second expert, so its capacity binds.
OWN_CONTEXT += [
    (
        f"capital-{country.lower()}",
        f"The capital of {country} is {city if i % 3 else CAPITALS[i - 1][1]}.",
        f"{city} is the capital and the largest city of {country}, and the seat of its government.",
    )
    for i, (country, city) in enumerate(CAPITALS)
]


def _crowded_registry(tmp_path: Path, registry: Path) -> None:
    """A registry like the shipped one: three cross-encoders and rule experts (six routed
    experts, so expert capacity binds at top-2)."""
    from tests.experts.tiny_models import make_tiny_cross_encoder, write_registry

    base = _generalist_weights(registry)
    qa = make_tiny_cross_encoder(tmp_path / "tiny-qa", seed=5)
    long = make_tiny_cross_encoder(tmp_path / "tiny-long", seed=7)
    write_registry(
        registry,
        [
            {"name": "nli-general", "kind": "cross_encoder", "weights": base, "prior": 3.0},
            {"name": "nli-qa", "kind": "cross_encoder", "weights": str(qa), "domains": ["qa"]},
            {
                "name": "nli-long",
                "kind": "cross_encoder",
                "weights": str(long),
                "domains": ["long_source"],
            },
            {"name": "similarity", "kind": "similarity", "domains": ["general"]},
            {
                "name": "numbers",
                "kind": "numbers",
                "domains": ["numbers"],
                "patterns": [r"(?<![A-Za-z\d])\d"],
            },
            {"name": "negation", "kind": "negation", "keywords": ["not", "no"], "prior": 0.5},
        ],
    )


def _generalist_weights(registry: Path) -> str:
    import yaml

    return next(
        e["weights"]
        for e in yaml.safe_load(registry.read_text())["experts"]
        if e["name"] == "nli-general"
    )


def test_own_context_items_are_scored_exactly_as_without_the_domain_expert(
    bank_home: dict, tmp_path: Path
) -> None:
    """An added expert once changed the others' capacity (``factor * pairs * k / experts``)
    and so the routing of pairs it never took: own-context claims changed."""
    from experts.training.domain import train_domain_expert
    from experts.training.domain_data import corpus_from_paths
    from flows.pipeline import Inline, verify_pipeline
    from flows.verify import fresh_run_id
    from retrieval.ingest import ingest_paths

    _crowded_registry(tmp_path, bank_home["registry"])
    ingest_paths([bank_home["corpus"]])
    items = [{"id": i, "text": t, "context": c} for i, t, c in OWN_CONTEXT]
    items += [
        {"id": "bank-fee", "text": "The Fjordbank debit card costs 25 EUR a year."},
        {"id": "bank-branches", "text": "Fjordbank has 42 branches in Norway and Sweden."},
    ]

    def claims() -> dict:
        result = verify_pipeline(Inline(), items=items, run_id=fresh_run_id())
        return {c.claim_id: c for v in result.verdicts for c in v.claims}

    without = claims()
    docs = corpus_from_paths([bank_home["corpus"]])
    train_domain_expert("banking", docs, minutes=5, log=lambda _: None, force=True)
    with_it = claims()
    assert set(with_it) == set(without)
    own = [cid for cid in without if not cid.startswith("bank-")]
    for cid in own:
        assert with_it[cid].experts == without[cid].experts, cid
        assert with_it[cid].p_supported == pytest.approx(without[cid].p_supported, abs=1e-6), cid
    # The domain's own claims (checked against the corpus) are its expert's.
    assert all("banking" in with_it[cid].experts for cid in with_it if cid.startswith("bank-"))
