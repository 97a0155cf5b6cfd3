import json

import pytest

from verdictflow.config import get_settings
from verdictflow.inputs import coerce_items, read_jsonl


@pytest.fixture
def jsonl(tmp_path):
    def write(lines: list[bytes]):
        path = tmp_path / "in.jsonl"
        path.write_bytes(b"\n".join(lines) + b"\n")
        return path

    return write


def _rules(errors):
    return {(e.line, e.rule) for e in errors}


def test_each_bad_line_is_named_and_good_lines_go_on(jsonl, home):
    big = json.dumps({"id": "big", "text": "x" * (get_settings().verify.max_line_bytes + 10)})
    path = jsonl(
        [
            json.dumps({"id": "ok1", "text": "The Fjell S1 is rated IP67."}).encode(),
            b'{"id": "broken", "text": ',
            json.dumps({"text": "no id"}).encode(),
            json.dumps({"id": "e", "text": "   "}).encode(),
            json.dumps({"id": "ok1", "text": "duplicate id"}).encode(),
            "caf\xe9".encode("latin-1"),
            big.encode(),
            json.dumps(["not", "an", "object"]).encode(),
            json.dumps({"id": "t", "text": 42}).encode(),
            json.dumps({"id": "m", "text": "fine text", "metadata": "nope"}).encode(),
            json.dumps({"id": 7, "text": "Integer ids are fine.", "label": "supported"}).encode(),
        ]
    )
    items, errors = read_jsonl(path)
    assert [i.id for i in items] == ["ok1", "7"]
    assert items[1].metadata == {"label": "supported"}
    assert _rules(errors) == {
        (2, "json"),
        (3, "id"),
        (4, "text"),
        (5, "duplicate_id"),
        (6, "utf8"),
        (7, "max_size"),
        (8, "object"),
        (9, "text"),
        (10, "types"),
    }
    duplicate = next(e for e in errors if e.rule == "duplicate_id")
    assert duplicate.item_id == "ok1" and "earlier" in duplicate.message


def test_text_over_the_character_limit(home, monkeypatch):
    from verdictflow.config import reset_settings

    monkeypatch.setenv("VERDICTFLOW_VERIFY__MAX_ITEM_CHARS", "20")
    reset_settings()
    items, errors = coerce_items(
        [
            {"id": "a", "text": "short enough"},
            {"id": "b", "text": "y" * 21},
            {"id": "c", "text": "short", "context": "z" * 21},
        ]
    )
    assert [i.id for i in items] == ["a"]
    assert [(e.line, e.item_id, e.rule) for e in errors] == [
        (2, "b", "max_size"),
        (3, "c", "max_size"),
    ]
    assert "context has 21 characters" in errors[1].message


def test_blank_context_becomes_none():
    items, _ = coerce_items([{"id": "a", "text": "Some claim here.", "context": "  "}])
    assert items[0].context is None


def test_overlong_id_is_refused_before_it_reaches_storage():
    long_id = "i" * (get_settings().quality.max_id_chars + 1)
    items, errors = coerce_items([{"id": long_id, "text": "A fine claim here."}])
    assert items == []
    assert errors[0].rule == "id" and "limit" in errors[0].message


def test_a_byte_order_mark_before_the_first_line_is_dropped(jsonl, home):
    path = jsonl(
        [
            b"\xef\xbb\xbf" + json.dumps({"id": "first", "text": "The first record."}).encode(),
            json.dumps({"id": "second", "text": "The second record."}).encode(),
        ]
    )
    items, errors = read_jsonl(path)
    assert errors == []
    assert [i.id for i in items] == ["first", "second"]
    # Only before the first line: a mark inside the file is still an error.
    inside = jsonl([json.dumps({"id": "a", "text": "A."}).encode(), b"\xef\xbb\xbf{}"])
    assert [e.rule for e in read_jsonl(inside)[1]] == ["json"]


def test_unknown_fields_are_an_error_naming_them(jsonl, home):
    path = jsonl(
        [
            json.dumps({"id": "ok", "text": "A claim.", "label": "supported"}).encode(),
            json.dumps({"id": "typo", "text": "A claim.", "contxt": "The evidence."}).encode(),
            json.dumps({"id": "meta", "text": "A claim.", "metadata": {"contxt": 1}}).encode(),
            json.dumps({"text": "A claim.", "source": "web", "lang": "en"}).encode(),
        ]
    )
    items, errors = read_jsonl(path)
    assert [i.id for i in items] == ["ok", "meta"]
    # the gold label is a known field, kept in the metadata; extras in metadata are fine
    assert items[0].metadata == {"label": "supported"} and items[1].metadata == {"contxt": 1}
    assert [(e.line, e.item_id, e.rule) for e in errors] == [
        (2, "typo", "unknown_field"),
        (4, None, "unknown_field"),
    ]
    assert "'contxt'" in errors[0].message and "'metadata'" in errors[0].message
    assert "'source', 'lang'" in errors[1].message


def test_an_item_over_the_claim_limit_is_refused(home, monkeypatch):
    from verdictflow.config import reset_settings

    monkeypatch.setenv("VERDICTFLOW_VERIFY__MAX_CLAIMS_PER_ITEM", "3")
    reset_settings()
    three = "The first claim holds. The second claim holds. The third claim holds."
    items, errors = coerce_items(
        [
            {"id": "three", "text": three},
            {"id": "four", "text": three + " The fourth claim holds."},
            {"id": "questions", "text": three + " Does a question count? No it does not?"},
        ]
    )
    assert [i.id for i in items] == ["three", "questions"]
    [error] = errors
    assert (error.line, error.item_id, error.rule) == (2, "four", "max_claims")
    assert "more than 3 claims" in error.message
    assert "verify.max_claims_per_item" in error.message
    monkeypatch.setenv("VERDICTFLOW_VERIFY__MAX_CLAIMS_PER_ITEM", "0")  # 0: no limit
    reset_settings()
    assert coerce_items([{"id": "many", "text": three * 100}])[1] == []
