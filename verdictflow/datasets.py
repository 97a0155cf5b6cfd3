"""Read the records of a dataset (JSONL, CSV, Parquet file or a database table) as items.

Columns are mapped onto the item contract: ``id_column`` -> ``id``, ``text_column`` -> ``text``,
``context_column`` -> ``context``; every other column goes into the item's metadata. A missing
column or an unknown table is a permanent error that names the dataset; a bad record is an
``InputError`` naming its row and rule, and the rest of the dataset goes on.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

from verdictflow.config import get_settings
from verdictflow.contracts import InputError, Item
from verdictflow.inputs import jsonl_records, parse_records

FORMATS = {".jsonl": "jsonl", ".ndjson": "jsonl", ".csv": "csv", ".parquet": "parquet"}


class DatasetError(ValueError):
    """The dataset as a whole cannot be read (missing file or column, unknown table)."""


def dataset_format(path: Path) -> str:
    """'jsonl', 'csv' or 'parquet' from the file's suffix."""
    try:
        return FORMATS[path.suffix.lower()]
    except KeyError:
        raise DatasetError(
            f"dataset {path}: unsupported file type {path.suffix!r} "
            f"(rule: format; one of {', '.join(sorted(FORMATS))})"
        ) from None


def _error(line: int, rule: str, message: str) -> InputError:
    return InputError(line=line, item_id=None, rule=rule, message=message)


def _table_rows(table: Any, source: str, id_column: str, limit: int | None) -> list[dict]:
    import pyarrow as pa

    if id_column in table.column_names:  # ids are names: never 7.0 for "7", nor 1 for "001"
        index = table.column_names.index(id_column)
        table = table.set_column(index, id_column, table.column(id_column).cast(pa.string()))
    if limit is not None:
        table = table.slice(0, limit)
    return table.to_pylist()


def _file_rows(path: Path, id_column: str, limit: int | None) -> Iterator[tuple[int, Any]]:
    kind = dataset_format(path)
    if kind == "jsonl":
        yield from jsonl_records(path, limit)
        return
    if kind == "csv":
        import pyarrow as pa
        from pyarrow import csv

        options = csv.ConvertOptions(
            column_types={id_column: pa.string()}, strings_can_be_null=True
        )
        table = csv.read_csv(path, convert_options=options)
    else:
        from pyarrow import parquet

        table = parquet.read_table(path)
    yield from enumerate(_table_rows(table, str(path), id_column, limit), start=1)


def _database_rows(table: str, url: str | None, limit: int | None) -> Iterator[tuple[int, Any]]:
    import sqlalchemy as sa

    engine = sa.create_engine(url or get_settings().db_url)
    try:
        try:
            schema, _, name = table.rpartition(".")
            found = sa.Table(name, sa.MetaData(), schema=schema or None, autoload_with=engine)
        except sa.exc.NoSuchTableError:
            raise DatasetError(f"dataset table {table!r}: no such table (rule: table)") from None
        query = sa.select(found)
        if found.primary_key.columns:
            query = query.order_by(*found.primary_key.columns)
        if limit is not None:
            query = query.limit(limit)
        with engine.connect() as conn:
            rows = [dict(r._mapping) for r in conn.execute(query)]
    finally:
        engine.dispose()
    yield from enumerate(rows, start=1)


def _map_columns(
    rows: Iterator[tuple[int, Any]],
    source: str,
    id_column: str,
    text_column: str,
    context_column: str | None,
) -> Iterator[tuple[int, Any]]:
    checked = False
    for line, row in rows:
        if not isinstance(row, dict):
            yield line, row
            continue
        if not checked and row:
            checked = True
            for column in (id_column, text_column):
                if column not in row:
                    raise DatasetError(
                        f"dataset {source}: column {column!r} not found "
                        f"(rule: column; columns: {', '.join(map(str, row))})"
                    )
        record = {k: _plain(v) for k, v in row.items() if v is not None}
        mapped: dict[str, Any] = {"id": record.pop(id_column, None)}
        mapped["text"] = record.pop(text_column, None)
        if context_column:
            mapped["context"] = record.pop(context_column, None)
        metadata = record.pop("metadata", None) if id_column != "metadata" else None
        mapped["metadata"] = {**(metadata if isinstance(metadata, dict) else {}), **record}
        yield line, mapped


def _plain(value: Any) -> Any:
    """JSON-friendly values for item metadata (dates and decimals as strings)."""
    if isinstance(value, str | int | float | bool | list | dict):
        return value
    return str(value)


def read_dataset(
    path: str | Path | None = None,
    table: str | None = None,
    *,
    database_url: str | None = None,
    id_column: str = "id",
    text_column: str = "text",
    context_column: str | None = None,
    limit: int | None = None,
) -> tuple[list[Item], list[InputError]]:
    """Items and per-record errors of a file (JSONL/CSV/Parquet) or a database table.

    Args:
        path: A ``.jsonl``, ``.csv`` or ``.parquet`` file.
        table: A table (``schema.table`` allowed) in ``database_url`` (None: verdictflow's own).
        database_url: SQLAlchemy URL of the database that holds ``table``.
        id_column: Column with the record id.
        text_column: Column with the text to check.
        context_column: Column with the record's own evidence, if any.
        limit: Read at most this many records.
    """
    if (path is None) == (table is None):
        raise DatasetError("give exactly one of a dataset path or a database table (rule: source)")
    if path is not None:
        path = Path(path)
        if not path.is_file():
            raise DatasetError(f"dataset {path}: file not found (rule: exists)")
        rows, source = _file_rows(path, id_column, limit), str(path)
    else:
        rows, source = _database_rows(str(table), database_url, limit), f"table {table}"
    return parse_records(_map_columns(rows, source, id_column, text_column, context_column))
