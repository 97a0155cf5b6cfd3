"""Loaders: each file type, stable ids and hashes, and every kind of bad input."""

from __future__ import annotations

import json
import os

import pandas as pd
import pytest

from retrieval.loaders import load_documents, text_title
from tests.retrieval.files import blank_pdf, text_pdf, write_corpus


def by_id(result):
    return {d.doc_id: d for d in result.documents}


def test_each_file_type_loads(tmp_path):
    result = load_documents([write_corpus(tmp_path)])
    assert result.failures == []
    docs = by_id(result)
    assert set(docs) == {
        "paris.txt", "sub/cats.md", "water.html", "moon.pdf",
        "r-einstein", "r-everest", "c-nile", "p-gold",
    }  # fmt: skip
    assert docs["paris.txt"].text.startswith("Paris is the capital of France.")
    assert "# Cats" in docs["sub/cats.md"].text
    html = docs["water.html"]
    assert "boils at 100 degrees" in html.text and "var x" not in html.text
    assert html.metadata["title"] == "Water"
    pdf = docs["moon.pdf"]
    assert "Apollo 11 landed on the Moon in 1969." in pdf.text and pdf.metadata["pages"] == 1
    assert docs["r-einstein"].metadata["domain"] == "science"
    assert docs["r-einstein"].metadata["year"] == 1905
    assert docs["c-nile"].text == "The Nile is a major river in Africa."
    assert docs["p-gold"].metadata["domain"] == "science"
    assert all(d.source.startswith(str(tmp_path)) for d in result.documents)
    assert len(result.files) == 7


def test_ids_and_hashes_are_stable_and_follow_content(tmp_path):
    write_corpus(tmp_path)
    first, again = by_id(load_documents([tmp_path])), by_id(load_documents([tmp_path]))
    assert {k: d.content_hash for k, d in first.items()} == {
        k: d.content_hash for k, d in again.items()
    }
    # the same file named directly keeps its id relative to its own folder
    direct = by_id(load_documents([tmp_path / "paris.txt"]))
    assert direct["paris.txt"].content_hash == first["paris.txt"].content_hash
    (tmp_path / "paris.txt").write_text("Paris is in France.")
    assert by_id(load_documents([tmp_path]))["paris.txt"].content_hash != (
        first["paris.txt"].content_hash
    )


def test_custom_text_and_id_columns(tmp_path):
    path = tmp_path / "t.jsonl"
    path.write_text(json.dumps({"key": "k1", "body": "Body text here."}) + "\n")
    (doc,) = load_documents([path], text_column="body", id_column="key").documents
    assert (doc.doc_id, doc.text) == ("k1", "Body text here.")


def test_rows_without_id_get_one_from_their_position(tmp_path):
    pd.DataFrame({"text": ["first row", "second row"]}).to_csv(tmp_path / "n.csv", index=False)
    assert sorted(by_id(load_documents([tmp_path]))) == ["n.csv:1", "n.csv:2"]


def test_bad_files_fail_one_by_one(tmp_path, home, monkeypatch):
    (tmp_path / "good.txt").write_text("A good document.")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02\x03 binary")
    (tmp_path / "latin1.txt").write_bytes("caf\xe9 cr\xe8me".encode("latin-1"))
    (tmp_path / "empty.md").write_text("  \n\n ")
    (tmp_path / "scan.pdf").write_bytes(blank_pdf())
    (tmp_path / "broken.pdf").write_bytes(b"%PDF-1.4 this is not really a pdf")
    (tmp_path / "big.txt").write_text("x" * 5000)
    (tmp_path / "locked.txt").write_text("secret")
    (tmp_path / "locked.txt").chmod(0)
    (tmp_path / "bad.parquet").write_bytes(b"PAR1 nonsense")
    (tmp_path / "table.jsonl").write_text(
        json.dumps({"id": "ok", "text": "Fine row."}) + "\n"
        + json.dumps({"id": "notext", "title": "no text"}) + "\n"
        + "{not json\n"
        + json.dumps({"id": "ok", "text": "Same id again."}) + "\n"
        + json.dumps(["a", "list"]) + "\n"
    )  # fmt: skip
    monkeypatch.setenv("VERDICTFLOW_RETRIEVAL__MAX_FILE_BYTES", "4096")
    from verdictflow.config import reset_settings

    reset_settings()
    result = load_documents([tmp_path, tmp_path / "missing.txt", tmp_path / "data.xlsx"])
    rules = {f.doc_id: f.rule for f in result.failures}

    expected = {
        "binary.txt": "binary",
        "latin1.txt": "encoding",
        "empty.md": "empty_document",
        "scan.pdf": "pdf_no_text",
        "broken.pdf": "pdf_unreadable",
        "big.txt": "max_file_bytes",
        "bad.parquet": "unreadable_table",
        "notext": "missing_text",
        "table.jsonl:3": "bad_row",
        "table.jsonl:5": "bad_row",
        "missing.txt": "not_found",
        "data.xlsx": "unsupported_type",
    }
    if os.geteuid() != 0:  # root reads any file
        expected["locked.txt"] = "unreadable"
    for doc_id, rule in expected.items():
        assert rules.get(doc_id) == rule, (doc_id, rules)
    assert [f.rule for f in result.failures if f.doc_id == "ok"] == ["duplicate_id"]
    assert sorted(by_id(result)) == sorted(
        ["good.txt", "ok"] + (["locked.txt"] if os.geteuid() == 0 else [])
    )
    # every failure names the record and the rule
    for f in result.failures:
        record = f.record()
        assert record.status == "failed" and record.error.startswith(f.rule)
    assert not next(f for f in result.failures if f.doc_id == "notext").whole_file
    (tmp_path / "locked.txt").chmod(0o644)


def test_pdf_text_extraction_handles_several_lines(tmp_path):
    (tmp_path / "a.pdf").write_bytes(text_pdf(["Line one (with parens).", "Line two."]))
    (doc,) = load_documents([tmp_path]).documents
    assert "Line one (with parens)." in doc.text and "Line two." in doc.text


@pytest.mark.parametrize("suffix", [".csv", ".parquet"])
def test_missing_text_cells_in_tables(tmp_path, suffix):
    frame = pd.DataFrame({"id": ["a", "b"], "text": ["Has text.", None]})
    path = tmp_path / f"t{suffix}"
    frame.to_csv(path, index=False) if suffix == ".csv" else frame.to_parquet(path)
    result = load_documents([path])
    assert [d.doc_id for d in result.documents] == ["a"]
    assert [(f.doc_id, f.rule) for f in result.failures] == [("b", "missing_text")]


@pytest.mark.parametrize("suffix", [".csv", ".jsonl"])
def test_a_table_without_its_text_column_names_the_columns_found(tmp_path, suffix):
    rows = [{"id": "n1", "body": "The Nile is a river."}, {"id": "n2", "body": "So is the Po."}]
    path = tmp_path / f"rivers{suffix}"
    if suffix == ".csv":
        pd.DataFrame(rows).to_csv(path, index=False)
    else:
        path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    result = load_documents([path])
    assert result.documents == []
    [failure] = result.failures  # one failure for the file, not one per row
    assert (failure.doc_id, failure.rule, failure.whole_file) == (
        f"rivers{suffix}",
        "missing_text_column",
        True,
    )
    assert "columns found: 'id', 'body'" in failure.message
    assert "--text-column" in failure.message
    fixed = load_documents([path], text_column="body")
    assert [d.doc_id for d in fixed.documents] == ["n1", "n2"] and fixed.failures == []


def test_files_a_folder_holds_of_other_types_are_listed_as_skipped(tmp_path):
    (tmp_path / "good.txt").write_text("A good document.")
    (tmp_path / "model.bin").write_bytes(b"\x00\x01\x02 weights")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "notes.docx").write_bytes(b"PK\x03\x04")
    (tmp_path / ".hidden.bin").write_bytes(b"\x00")
    result = load_documents([tmp_path])
    assert [d.doc_id for d in result.documents] == ["good.txt"] and result.failures == []
    skipped = {s.source: s.reason for s in result.skipped}
    assert set(skipped) == {str(tmp_path / "model.bin"), str(tmp_path / "sub" / "notes.docx")}
    assert skipped[str(tmp_path / "model.bin")].startswith("unsupported type: .bin is not one of")


def test_a_byte_order_mark_does_not_cost_a_table_its_first_row(tmp_path):
    path = tmp_path / "bom.jsonl"
    rows = [{"id": "first", "text": "The first row."}, {"id": "second", "text": "The second."}]
    path.write_bytes(b"\xef\xbb\xbf" + "".join(json.dumps(r) + "\n" for r in rows).encode())
    result = load_documents([path])
    assert [d.doc_id for d in result.documents] == ["first", "second"] and result.failures == []


def test_ids_made_from_a_path_carry_the_absolute_path_as_their_alternative(tmp_path):
    write_corpus(tmp_path)
    pd.DataFrame({"text": ["first row"]}).to_csv(tmp_path / "n.csv", index=False)
    docs = by_id(load_documents([tmp_path]))
    assert docs["sub/cats.md"].alt_id == (tmp_path / "sub" / "cats.md").resolve().as_posix()
    assert docs["n.csv:1"].alt_id == f"{(tmp_path / 'n.csv').resolve().as_posix()}:1"
    assert docs["r-einstein"].alt_id is None  # a table's own id is never changed


@pytest.mark.parametrize(
    ("text", "title"),
    [
        ("# Aurora X2 headphones\n\nThey weigh 254 grams.", "Aurora X2 headphones"),
        ("## Returns ##\nBody.", "Returns"),
        ("Warranty policy\n===============\nTwo years.", "Warranty policy"),
        (
            "Sustainability at Nordlicht\n\nSince 2021 all packaging is recycled.",
            "Sustainability at Nordlicht",
        ),
        ("A first sentence that ends.\n\nMore text.", ""),  # a sentence, not a title
        ("First line\nsecond line of one paragraph.", ""),  # not standing alone
        ("Only one line", ""),  # a document of one line is its own text, not a title
        ("x" * 200 + "\n\nBody.", ""),  # too long for a title
        ("", ""),
    ],
)
def test_a_text_document_s_title(text, title):
    assert text_title(text) == title


def test_text_documents_carry_their_title_in_metadata(tmp_path):
    (tmp_path / "x2.md").write_text("# Aurora X2\n\nThey are available in three colours.\n")
    (tmp_path / "plain.txt").write_text("They are available in three colours.\n")
    docs = by_id(load_documents([tmp_path]))
    assert docs["x2.md"].metadata["title"] == "Aurora X2"
    assert "title" not in docs["plain.txt"].metadata
