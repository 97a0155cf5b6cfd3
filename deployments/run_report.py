"""A verify run scored against its gold labels, for the terminal: how many items it got
right, which false items it caught or missed, which true items it flagged.

An item is *flagged* when its verdict is not ``supported`` (contradicted, unsupported or
uncertain) and *false* when its gold label is not supported. The verdict is *right* when it
names the gold label's class (``verdictflow.contracts.LABEL_NAMES``); an ``uncertain``
verdict is never right.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from verdictflow.contracts import LABEL_NAMES, SUPPORTED, ItemVerdict, label_index

# What a labelled item's verdict did, in the order the table lists them.
CAUGHT, MISSED, FALSE_ALARM, PASSED = "caught", "missed", "false alarm", "passed"
OUTCOMES = (CAUGHT, MISSED, FALSE_ALARM, PASSED)


def outcome(verdict: str, gold: Any) -> str:
    """``caught`` (false, flagged), ``missed`` (false, passed as supported), ``false alarm``
    (true, flagged) or ``passed`` (true, supported)."""
    false = label_index(gold, "gold label") != SUPPORTED
    flagged = verdict != "supported"
    if false:
        return CAUGHT if flagged else MISSED
    return FALSE_ALARM if flagged else PASSED


def is_right(verdict: str, gold: Any) -> bool:
    """Whether the verdict names the gold label's class (``uncertain`` never does)."""
    return verdict in LABEL_NAMES and LABEL_NAMES[verdict] == label_index(gold, "gold label")


@dataclass
class GoldScore:
    """A run's labelled items: how many right, and each item's outcome (item id -> outcome)."""

    total: int = 0
    right: int = 0
    outcomes: dict[str, str] = field(default_factory=dict)
    labels: dict[str, str] = field(default_factory=dict)  # item id -> gold label as given

    def ids(self, kind: str) -> list[str]:
        """The items of one outcome, in run order."""
        return [i for i, o in self.outcomes.items() if o == kind]

    @property
    def n_false(self) -> int:
        """Labelled items whose gold label is not supported."""
        return len(self.ids(CAUGHT)) + len(self.ids(MISSED))

    @property
    def n_true(self) -> int:
        """Labelled items whose gold label is supported."""
        return self.total - self.n_false


def score(verdicts: Sequence[ItemVerdict], labels: Mapping[str, Any]) -> GoldScore | None:
    """The verdicts against the gold labels (item id -> label); None when none is labelled."""
    result = GoldScore()
    for verdict in verdicts:
        if verdict.item_id not in labels:
            continue
        gold, said = labels[verdict.item_id], verdict.label.value
        try:
            kind = outcome(said, gold)
        except ValueError:  # not a label verdictflow knows: not scored
            continue
        result.total += 1
        result.right += is_right(said, gold)
        result.outcomes[verdict.item_id] = kind
        result.labels[verdict.item_id] = str(gold)
    return result if result.total else None


def score_line(result: GoldScore) -> str:
    """``Against the gold labels: N of M items right ...`` with what it caught and missed."""
    share = result.right / result.total
    caught, missed = len(result.ids(CAUGHT)), len(result.ids(MISSED))
    alarms = len(result.ids(FALSE_ALARM))
    line = f"Against the gold labels: {result.right} of {result.total} items right ({share:.0%})."
    if result.n_false:
        line += f" Of the {result.n_false} false items it caught {caught} and missed {missed}"
    else:
        line += " No item is labelled false"
    if result.n_true:
        line += f"; it flagged {alarms} of the {result.n_true} true items."
    else:
        line += "."
    return line


def to_list(verdicts: Sequence[ItemVerdict], result: GoldScore | None) -> list[ItemVerdict]:
    """The items worth a look: the flagged ones and, with gold labels, the false items that
    passed; labelled ones grouped by outcome (caught, missed, false alarm), in run order."""
    shown = [
        v
        for v in verdicts
        if v.label.value != "supported"
        or (result is not None and result.outcomes.get(v.item_id) == MISSED)
    ]
    return by_outcome(shown, result)


def by_outcome(verdicts: Sequence[ItemVerdict], result: GoldScore | None) -> list[ItemVerdict]:
    """The verdicts grouped by outcome in ``OUTCOMES`` order (unlabelled last), in run order."""
    if result is None:
        return list(verdicts)
    rank = {kind: i for i, kind in enumerate(OUTCOMES)}
    return sorted(verdicts, key=lambda v: rank.get(result.outcomes.get(v.item_id, ""), len(rank)))


def listing_line(result: GoldScore, listed: Sequence[str], command: str) -> str:
    """What the table lists of a labelled run and what it leaves out (``command`` lists all)."""
    counts = {kind: sum(result.outcomes.get(i) == kind for i in listed) for kind in OUTCOMES}
    parts = [
        f"{counts[CAUGHT]} caught (false, flagged)",
        f"{counts[MISSED]} missed (false, passed)",
        f"{counts[FALSE_ALARM]} false alarms (true, flagged)",
    ]
    if counts[PASSED]:
        parts.append(f"{counts[PASSED]} passed (true, supported)")
    line = "Listed: " + ", ".join(parts)
    hidden = len(result.ids(PASSED)) - counts[PASSED]
    if hidden:
        line += f"; {hidden} true items that passed are not listed (`{command}` lists every item)"
    return line + "."
