"""Reading datasets for verify-dataset: files of three formats and real database tables."""

from __future__ import annotations

import json

import pyarrow as pa
import pytest
import sqlalchemy as sa
from pyarrow import parquet

from verdictflow.datasets import DatasetError, read_dataset

ROWS = [
    {"sku": "007", "description": "The Fjell S1 weighs 1.1 kilograms.", "colour": "red"},
    {"sku": "008", "description": "The Aurora K2 holds 1.7 litres.", "colour": None},
]


def test_jsonl_keeps_good_records_and_names_the_bad_ones(home, tmp_path):
    path = tmp_path / "records.jsonl"
    path.write_text(
        json.dumps({"id": "a", "text": "The Fjell S1 is rated IP67.", "source": "shop"})
        + "\n{not json\n"
        + json.dumps({"id": "b", "text": ""})
        + "\n\n"
        + json.dumps({"id": "a", "text": "A duplicate of a."})
        + "\n",
        encoding="utf-8",
    )
    items, errors = read_dataset(path)
    assert [i.id for i in items] == ["a"]
    assert items[0].metadata == {"source": "shop"}
    assert [(e.line, e.item_id, e.rule) for e in errors] == [
        (2, None, "json"),
        (3, "b", "text"),
        (5, "a", "duplicate_id"),
    ]


def test_csv_with_custom_columns_keeps_ids_as_written(home, tmp_path):
    path = tmp_path / "catalogue.csv"
    path.write_text(
        "sku,description,colour\n"
        + "".join(f"{r['sku']},{r['description']},{r['colour'] or ''}\n" for r in ROWS),
        encoding="utf-8",
    )
    items, errors = read_dataset(path, id_column="sku", text_column="description")
    assert errors == []
    assert [i.id for i in items] == ["007", "008"]  # not 7 and 8
    assert items[0].text == ROWS[0]["description"]
    assert items[0].metadata == {"colour": "red"} and items[1].metadata == {}


def test_parquet_with_a_context_column_and_a_limit(home, tmp_path):
    path = tmp_path / "records.parquet"
    table = pa.table(
        {
            "id": [1, 2, 3],
            "claim": ["It is rated IP67.", "It weighs 2 kg.", "It is blue."],
            "evidence": ["The Fjell S1 is rated IP67.", None, "It is red."],
        }
    )
    parquet.write_table(table, path)
    items, errors = read_dataset(path, text_column="claim", context_column="evidence", limit=2)
    assert errors == []
    assert [(i.id, i.context) for i in items] == [("1", "The Fjell S1 is rated IP67."), ("2", None)]


def test_a_database_table_is_read_in_key_order(home, db_url):
    engine = sa.create_engine(db_url)
    meta = sa.MetaData()
    products = sa.Table(
        "products",
        meta,
        sa.Column("sku", sa.String, primary_key=True),
        sa.Column("description", sa.Text),
        sa.Column("colour", sa.String),
    )
    meta.create_all(engine)
    with engine.begin() as conn:
        conn.execute(products.insert(), list(reversed(ROWS)))
    engine.dispose()
    items, errors = read_dataset(
        table="products", database_url=db_url, id_column="sku", text_column="description"
    )
    assert errors == []
    assert [i.id for i in items] == ["007", "008"]
    assert items[0].metadata == {"colour": "red"}


@pytest.mark.parametrize(
    ("kwargs", "rule"),
    [
        ({"table": "no_such_table"}, "rule: table"),
        ({"path": "missing.jsonl"}, "rule: exists"),
        ({}, "rule: source"),
    ],
)
def test_unreadable_sources_fail_fast_with_the_rule(home, tmp_path, kwargs, rule):
    if "path" in kwargs:
        kwargs = {"path": tmp_path / kwargs["path"]}
    with pytest.raises(DatasetError, match=rule):
        read_dataset(**kwargs)


def test_a_missing_column_or_format_names_the_dataset(home, tmp_path):
    path = tmp_path / "records.csv"
    path.write_text("sku,body\n1,Some text here.\n", encoding="utf-8")
    with pytest.raises(DatasetError, match=r"records.csv: column 'text' not found.*sku, body"):
        read_dataset(path, id_column="sku")
    odd = tmp_path / "records.xlsx"
    odd.write_bytes(b"x")
    with pytest.raises(DatasetError, match="unsupported file type '.xlsx'"):
        read_dataset(odd)
