"""A tiny bank corpus and a home whose registry holds a tiny generalist (domain expert tests)."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.experts.tiny_models import make_tiny_cross_encoder, write_registry

BANK = {
    "accounts.md": (
        "The Fjordbank savings account pays 2.5 percent interest a year. Interest is paid into "
        "the account on the last day of each month. The account has no monthly fee for "
        "customers under 26 years. Withdrawals are free and arrive within one working day. "
        "A savings account can be opened online in about ten minutes."
    ),
    "cards.md": (
        "The Fjordbank debit card costs 15 EUR a year. Cards are replaced for free when they "
        "expire after four years. A lost card is blocked at once by calling the service line. "
        "Contactless payments are limited to 50 EUR each. The card is not accepted at petrol "
        "stations in Norway."
    ),
    "loans.md": (
        "Fjordbank offers car loans of up to 40000 EUR over seven years. The interest rate of "
        "a car loan is fixed for the whole term. Customers may repay a loan early without any "
        "fee. Mortgage applications are decided by Ingrid Solberg's team within five days. A "
        "mortgage needs a deposit of at least 15 percent."
    ),
    "branches.md": (
        "Fjordbank has 42 branches in Norway and Sweden. Branches open at nine in the morning "
        "on weekdays. The head office is in Bergen near the old harbour. Every branch has a "
        "cash machine that is open all night. Safe deposit boxes are offered only in Bergen."
    ),
    "support.md": (
        "The service line answers calls every day from eight to eight. Chat support in the app "
        "replies within five minutes on average. Complaints are answered in writing within "
        "fourteen days. Support is given in Norwegian, Swedish and English. Fraud reports "
        "are handled by a separate team around the clock."
    ),
}


def bank_home_setup(home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict:
    """A home whose registry holds a tiny 3-class generalist and the numbers expert, a tiny
    training budget, and the bank corpus as files."""
    from verdictflow.config import reset_settings

    base = make_tiny_cross_encoder(tmp_path / "tiny-general", seed=3)
    registry = write_registry(
        tmp_path / "registry.yaml",
        [
            {"name": "nli-general", "kind": "cross_encoder", "weights": str(base), "prior": 3.0},
            {"name": "numbers", "kind": "numbers", "domains": ["numbers"], "prior": 1.0},
        ],
    )
    corpus = tmp_path / "bank"
    corpus.mkdir()
    for name, text in BANK.items():
        (corpus / name).write_text(text)
    for key, value in {
        "EXPERTS__REGISTRY": str(registry),
        "DOMAINS__MAX_STEPS": "24",
        "DOMAINS__EVAL_EVERY": "8",
        "DOMAINS__BATCH_SIZE": "8",
        "DOMAINS__LEARNING_RATE": "0.0005",
        "DOMAINS__PAIRS_PER_TRANSFORM": "12",
        "DOMAINS__HARD_NEGATIVES": "12",
        "DOMAINS__DEV_FRACTION": "0.2",
        "DOMAINS__TEST_FRACTION": "0.2",
    }.items():
        monkeypatch.setenv(f"VERDICTFLOW_{key}", value)
    reset_settings()
    return {"home": home, "corpus": corpus, "registry": registry}
