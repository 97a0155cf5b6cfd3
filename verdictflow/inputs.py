"""Read items to check, and say exactly what is wrong with the ones that cannot be checked.

Rules (each error names the line, the item id when known, and the rule):
``utf8`` the line is not UTF-8; ``max_size`` the line or text is over the limit; ``json`` the line
is not JSON; ``object`` it is not a JSON object; ``unknown_field`` a field an item does not have
(other values go in ``metadata``); ``id`` missing or not a string/integer; ``text`` missing, not
a string, or empty; ``types`` a known field has the wrong type; ``max_claims`` the text makes
more than ``verify.max_claims_per_item`` claims; ``duplicate_id`` an id seen earlier in the
batch (the first one is checked); and the rules of the ``Item`` contract (``text_length``,
``max_size``, ``allowed_metadata``, ...). A UTF-8 byte order mark before the first line is
dropped.
"""

from __future__ import annotations

import codecs
import hashlib
import json
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from verdictflow.claims import claims_exceed
from verdictflow.config import get_settings
from verdictflow.contracts import ITEM_RULES, InputError, Item

_OPTIONAL_TEXT = ("context", "question")
# The fields of an input record; ``label`` (a gold label) is kept in the item's metadata.
ITEM_FIELDS = ("id", "text", *_OPTIONAL_TEXT, "metadata", "label")


def _valid_id(raw_id: Any) -> bool:
    return (
        not isinstance(raw_id, bool) and isinstance(raw_id, str | int) and bool(str(raw_id).strip())
    )


def _check_record(record: Any, line: int | None) -> Item | InputError:
    """The record as an ``Item``, or the first rule it breaks (the contract's rules)."""

    def error(rule: str, message: str, item_id: str | None = None) -> InputError:
        return InputError(line=line, item_id=item_id, rule=rule, message=message)

    if not isinstance(record, dict):
        return error("object", f"expected a JSON object, got {type(record).__name__}")
    raw_id = record.get("id")
    unknown = [str(k) for k in record if k not in ITEM_FIELDS]
    if unknown:
        fields = ", ".join(repr(k) for k in unknown)
        return error(
            "unknown_field",
            f"unknown field{'s' if len(unknown) > 1 else ''} {fields}: an item has "
            f"{', '.join(ITEM_FIELDS)}; put other values in 'metadata'",
            str(raw_id) if _valid_id(raw_id) else None,
        )
    if not _valid_id(raw_id):
        return error("id", "field 'id' is missing or not a non-empty string/integer")
    item_id = str(raw_id)
    if not isinstance(record.get("text"), str):
        return error("text", "field 'text' is missing or not a string", item_id)
    for key in _OPTIONAL_TEXT:
        if record.get(key) is not None and not isinstance(record[key], str):
            return error("types", f"field {key!r} must be a string", item_id)
    metadata = record.get("metadata") or {}
    if not isinstance(metadata, dict):
        return error("types", "field 'metadata' must be an object", item_id)
    label = {"label": record["label"]} if "label" in record else {}
    context = record.get("context")
    try:
        item = Item(
            id=item_id,
            text=record["text"],
            context=context if context and context.strip() else None,
            question=record.get("question") or None,
            metadata={**metadata, **label},
        )
    except ValidationError as exc:
        first = exc.errors()[0]
        rule = first["type"] if first["type"] in ITEM_RULES else "types"
        return error(rule, first["msg"], item_id)
    limit = get_settings().verify.max_claims_per_item
    if limit > 0 and claims_exceed(item.text, limit):
        return error(
            "max_claims",
            f"text makes more than {limit} claims (limit verify.max_claims_per_item); "
            "split it into smaller items",
            item_id,
        )
    return item


def parse_records(
    records: Iterable[tuple[int | None, Any]],
) -> tuple[list[Item], list[InputError]]:
    """Validate ``(line, record)`` pairs; records may be dicts, Items or InputErrors already."""
    items: list[Item] = []
    errors: list[InputError] = []
    seen: set[str] = set()
    for line, record in records:
        if isinstance(record, InputError):
            errors.append(record)
            continue
        if isinstance(record, Item):
            record = record.model_dump()
        result = _check_record(record, line)
        if isinstance(result, InputError):
            errors.append(result)
        elif result.id in seen:
            errors.append(
                InputError(
                    line=line,
                    item_id=result.id,
                    rule="duplicate_id",
                    message=f"id {result.id!r} appears earlier in the batch",
                )
            )
        else:
            seen.add(result.id)
            items.append(result)
    return items, errors


def jsonl_records(
    source: str | Path | bytes, limit: int | None = None
) -> Iterator[tuple[int, Any]]:
    """The one JSONL reader: ``(line number, parsed value)`` for each non-blank line of a file
    (or its bytes; a UTF-8 byte order mark before the first line is dropped), or
    ``(line number, InputError)`` naming the rule the line broke: ``max_size`` (over
    ``verify.max_line_bytes``), ``utf8``, ``json``. At most ``limit`` lines are read."""
    max_bytes = get_settings().verify.max_line_bytes

    def error(number: int, rule: str, message: str) -> tuple[int, InputError]:
        return number, InputError(line=number, item_id=None, rule=rule, message=message)

    def lines() -> Iterator[bytes]:
        if isinstance(source, bytes):
            yield from source.splitlines()
        else:
            with Path(source).open("rb") as handle:
                yield from handle

    read = 0
    for number, raw in enumerate(lines(), start=1):
        if number == 1 and raw.startswith(codecs.BOM_UTF8):
            raw = raw[len(codecs.BOM_UTF8) :]
        if not raw.strip():
            continue
        if limit is not None and read >= limit:
            return
        read += 1
        if len(raw) > max_bytes:
            yield error(number, "max_size", f"line has {len(raw):,} bytes (limit {max_bytes:,})")
            continue
        try:
            text = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            yield error(number, "utf8", f"not UTF-8: {exc.reason}")
            continue
        try:
            yield number, json.loads(text)
        except json.JSONDecodeError as exc:
            yield error(number, "json", f"not JSON: {exc.msg} (column {exc.colno})")


def input_digest(path: str | Path | None, records: list | None) -> str:
    """sha256 of the input as given: a file's bytes, or the records as JSON (bad ones too)."""
    digest = hashlib.sha256()
    if path is not None:
        with Path(path).open("rb") as handle:
            for block in iter(lambda: handle.read(1 << 20), b""):
                digest.update(block)
    else:
        plain = [r.model_dump() if isinstance(r, Item) else r for r in records or []]
        digest.update(json.dumps(plain, sort_keys=True, default=str).encode())
    return digest.hexdigest()


def read_jsonl(path: str | Path) -> tuple[list[Item], list[InputError]]:
    """Items and errors of a JSONL file (one item per line)."""
    return parse_records(jsonl_records(path))


def coerce_items(items: Iterable[Item | dict[str, Any]]) -> tuple[list[Item], list[InputError]]:
    """Items and errors from Python objects (``line`` is the 1-based position)."""
    return parse_records(enumerate(items, start=1))
