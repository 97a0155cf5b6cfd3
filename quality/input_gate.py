"""The inputs gate: schema, unique ids, non-empty text, length bounds, allowed metadata."""

from __future__ import annotations

from collections.abc import Sequence

import pandas as pd

from quality.gx_runtime import check, validate_frame
from quality.outcome import GateOutcome
from verdictflow.config import get_settings
from verdictflow.contracts import Item

INPUT_CHECKS = (
    check("ExpectColumnValuesToNotBeNull", "schema", column="id"),
    check(
        "ExpectColumnValueLengthsToBeBetween",
        "schema",
        column="id",
        min_value=1,
        max_value="$max_id_chars",
    ),
    check("ExpectColumnValuesToNotMatchRegex", "schema", column="id", regex=r"[\x00-\x1f]"),
    check("ExpectColumnValuesToBeUnique", "unique_ids", column="id"),
    check("ExpectColumnValuesToBeBetween", "non_empty_text", column="text_chars", min_value=1),
    check(
        "ExpectColumnValueLengthsToBeBetween",
        "text_length",
        column="text",
        min_value="$min_item_chars",
        max_value="$max_item_chars",
    ),
    check(
        "ExpectColumnValueLengthsToBeBetween",
        "context_length",
        column="context",
        max_value="$max_item_chars",
    ),
    check(
        "ExpectColumnValuesToBeInSet", "allowed_metadata", column="unknown_metadata", value_set=[""]
    ),
)


def check_inputs(items: Sequence[Item]) -> GateOutcome:
    """Validate items before they are split into claims.

    Rules (as named in ``failed_ids``): ``schema`` (id present, 1..max_id_chars, no control
    characters), ``unique_ids`` (every row sharing an id fails), ``non_empty_text`` (text not
    blank), ``text_length`` (min_item_chars..verify.max_item_chars), ``context_length``,
    ``allowed_metadata`` (keys in quality.allowed_metadata_keys, when set).
    """
    settings = get_settings()
    allowed = settings.quality.allowed_metadata_keys
    frame = pd.DataFrame(
        {
            "id": [i.id for i in items],
            "text": [i.text for i in items],
            "text_chars": [len(i.text.strip()) for i in items],
            "context": [i.context for i in items],
            "unknown_metadata": [
                ""
                if allowed is None
                else ",".join(sorted(k for k in i.metadata if k not in allowed))
                for i in items
            ],
        }
    )
    if frame.empty:
        return GateOutcome()
    parameters = {
        "max_id_chars": settings.quality.max_id_chars,
        "min_item_chars": settings.quality.min_item_chars,
        "max_item_chars": settings.verify.max_item_chars,
    }
    outcome = GateOutcome()
    outcome.extend(*validate_frame("inputs", "items", frame, INPUT_CHECKS, parameters, "id"))
    return outcome
