"""Load documents from files: .txt, .md, .html, .pdf (one document per file) and .jsonl,
.csv, .parquet (one document per row, with a text column and an id column).

Every document gets a stable ``doc_id`` (the row's id, or the file's path relative to the
folder it was found in) and a content hash. Bad input never raises: each problem becomes a
``LoadFailure`` naming the document and the rule it broke, and the other documents go on.
"""

from __future__ import annotations

import contextlib
import json
import math
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from retrieval.chunking import text_hash
from verdictflow.config import get_settings
from verdictflow.contracts import DocumentRecord, InputError
from verdictflow.inputs import jsonl_records

TEXT_SUFFIXES = (".txt", ".md", ".markdown", ".rst")
HTML_SUFFIXES = (".html", ".htm")
PDF_SUFFIXES = (".pdf",)
TABLE_SUFFIXES = (".jsonl", ".ndjson", ".csv", ".parquet")
SUPPORTED_SUFFIXES = TEXT_SUFFIXES + HTML_SUFFIXES + PDF_SUFFIXES + TABLE_SUFFIXES


class Document(BaseModel):
    """A loaded document: its text, where it came from and its content hash."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    text: str
    source: str
    content_hash: str
    metadata: dict[str, Any] = Field(default_factory=dict)


class LoadFailure(BaseModel):
    """A document (or a whole file) that could not be loaded, and the rule it broke."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    source: str
    rule: str
    message: str
    whole_file: bool = True

    def record(self) -> DocumentRecord:
        """As a failed DocumentRecord for storage."""
        return DocumentRecord(
            doc_id=self.doc_id,
            source=self.source,
            content_hash="",
            status="failed",
            error=f"{self.rule}: {self.message}",
        )


class LoadResult(BaseModel):
    """What loading some paths gave: documents, failures, and the files that were read."""

    documents: list[Document] = Field(default_factory=list)
    failures: list[LoadFailure] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)


class _Refused(Exception):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def document_hash(text: str, metadata: dict[str, Any]) -> str:
    """Content hash of a document: its text and its metadata."""
    meta = json.dumps(metadata, sort_keys=True, default=str)
    return text_hash(f"{text}\x00{meta}")


def make_document(doc_id: str, text: str, source: str, metadata: dict[str, Any]) -> Document:
    """A Document with its content hash."""
    return Document(
        doc_id=doc_id,
        text=text,
        source=source,
        content_hash=document_hash(text, metadata),
        metadata=metadata,
    )


def iter_files(paths: Sequence[str | Path]) -> Iterator[tuple[Path, Path]]:
    """(file, root) for every file named or found (recursively, supported types) in ``paths``.

    A named file is always yielded (an unsupported one fails when loaded); hidden files and
    folders inside a folder are skipped.
    """
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                rel = f.relative_to(path)
                if any(part.startswith(".") for part in rel.parts):
                    continue
                if f.is_file() and f.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield f, path
        else:
            yield path, path.parent


def _read_bytes(path: Path) -> bytes:
    limit = get_settings().retrieval.max_file_bytes
    if not path.exists():
        raise _Refused("not_found", f"{path} does not exist")
    try:
        size = path.stat().st_size
        if size > limit:
            raise _Refused("max_file_bytes", f"{path} is {size} bytes, over the {limit} limit")
        return path.read_bytes()
    except OSError as exc:
        raise _Refused("unreadable", f"{path} cannot be read: {exc.strerror or exc}") from exc


def _decode(path: Path, data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise _Refused("binary", f"{path} looks binary (NUL bytes), not text")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        message = f"{path} is not UTF-8 text ({exc.reason} at byte {exc.start})"
        raise _Refused("encoding", message) from exc


def _html_text(data: str) -> tuple[str, dict[str, Any]]:
    from bs4 import BeautifulSoup

    soup = BeautifulSoup(data, "html.parser")
    for tag in soup(["script", "style", "noscript", "template"]):
        tag.decompose()
    title = soup.title.get_text(strip=True) if soup.title else ""
    lines = (line.strip() for line in soup.get_text("\n").splitlines())
    text = "\n".join(line for line in lines if line)
    return text, ({"title": title} if title else {})


def _pdf_text(path: Path, data: bytes) -> tuple[str, dict[str, Any]]:
    import io

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise _Refused("pdf_encrypted", f"{path} is an encrypted PDF")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
    except _Refused:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError) as exc:
        raise _Refused("pdf_unreadable", f"{path} is not a readable PDF: {exc}") from exc
    text = "\n\n".join(p for p in pages if p)
    if not text.strip():
        raise _Refused("pdf_no_text", f"{path} has no text layer ({len(pages)} pages, scanned?)")
    return text, {"pages": len(pages)}


def _load_file(path: Path, doc_id: str, source: str) -> Document:
    suffix = path.suffix.lower()
    data = _read_bytes(path)
    meta: dict[str, Any] = {"file_type": suffix.lstrip(".")}
    if suffix in PDF_SUFFIXES:
        text, extra = _pdf_text(path, data)
    elif suffix in HTML_SUFFIXES:
        text, extra = _html_text(_decode(path, data))
    else:
        text, extra = _decode(path, data), {}
    if not text.strip():
        raise _Refused("empty_document", f"{path} has no text")
    return make_document(doc_id, text, source, {**meta, **extra})


def _clean_value(value: Any) -> Any:
    """A table cell as a JSON-able scalar (None for missing)."""
    if value is None:
        return None
    if hasattr(value, "item") and not isinstance(value, str | bytes):
        with contextlib.suppress(ValueError, AttributeError):
            value = value.item()
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, str | int | float | bool):
        return value
    return str(value)


def _table_rows(path: Path, data: bytes) -> Iterator[tuple[int, dict[str, Any] | None, str]]:
    """(row number, row or None, problem) for each row of a table file."""
    suffix = path.suffix.lower()
    if suffix in (".jsonl", ".ndjson"):
        for n, row in jsonl_records(data):
            if isinstance(row, InputError):
                yield n, None, f"line {n} is {row.message}"
                continue
            if not isinstance(row, dict):
                yield n, None, f"line {n} is not a JSON object"
                continue
            yield n, row, ""
        return
    import io

    import pandas as pd

    try:
        if suffix == ".csv":
            frame = pd.read_csv(io.BytesIO(data), dtype=object, keep_default_na=False)
        else:
            frame = pd.read_parquet(io.BytesIO(data))
    except Exception as exc:  # pandas/pyarrow raise many kinds for a broken file
        raise _Refused("unreadable_table", f"{path} cannot be parsed: {exc}") from exc
    for n, row in enumerate(frame.to_dict(orient="records"), start=1):
        yield n, {str(k): _clean_value(v) for k, v in row.items()}, ""


def _row_failure(doc_id: str, source: str, rule: str, message: str) -> LoadFailure:
    return LoadFailure(doc_id=doc_id, source=source, rule=rule, message=message, whole_file=False)


def _load_table(
    path: Path, rel: str, source: str, text_column: str, id_column: str
) -> tuple[list[Document], list[LoadFailure]]:
    data = _read_bytes(path)
    docs: list[Document] = []
    failures: list[LoadFailure] = []
    seen: set[str] = set()
    for n, row, problem in _table_rows(path, data):
        fallback = f"{rel}:{n}"
        if row is None:
            failures.append(_row_failure(fallback, source, "bad_row", f"{rel}: {problem}"))
            continue
        raw_id = row.get(id_column)
        doc_id = str(raw_id).strip() if raw_id not in (None, "") else fallback
        text = row.get(text_column)
        if not isinstance(text, str) or not text.strip():
            message = f"{rel} row {n} (id {doc_id!r}) has no text in column {text_column!r}"
            failures.append(_row_failure(doc_id, source, "missing_text", message))
            continue
        if doc_id in seen:
            message = f"{rel} row {n}: id {doc_id!r} repeats an earlier row"
            failures.append(_row_failure(doc_id, source, "duplicate_id", message))
            continue
        seen.add(doc_id)
        meta = {
            k: _clean_value(v)
            for k, v in row.items()
            if k not in (text_column, id_column) and _clean_value(v) is not None
        }
        meta.update({"file_type": path.suffix.lower().lstrip("."), "row": n})
        docs.append(make_document(doc_id, text, source, meta))
    if not docs and not failures:
        raise _Refused("empty_document", f"{path} has no rows")
    return docs, failures


def load_documents(
    paths: Sequence[str | Path], text_column: str | None = None, id_column: str | None = None
) -> LoadResult:
    """Load every document in ``paths`` (files or folders, searched recursively).

    Args:
        paths: Files or folders.
        text_column: Text column of tables; default ``settings.retrieval.text_column``.
        id_column: Id column of tables; default ``settings.retrieval.id_column``.

    Returns:
        Documents, per-document failures, and the files read (absolute paths).
    """
    settings = get_settings().retrieval
    text_column = text_column or settings.text_column
    id_column = id_column or settings.id_column
    result = LoadResult()
    for path, root in iter_files(paths):
        rel = path.relative_to(root).as_posix()
        source = str(path)
        result.files.append(source)
        try:
            suffix = path.suffix.lower()
            if suffix in TABLE_SUFFIXES:
                docs, failures = _load_table(path, rel, source, text_column, id_column)
                result.documents.extend(docs)
                result.failures.extend(failures)
            elif suffix in SUPPORTED_SUFFIXES:
                result.documents.append(_load_file(path, rel, source))
            else:
                raise _Refused(
                    "unsupported_type",
                    f"{path}: {suffix or 'no suffix'} is not one of "
                    f"{', '.join(SUPPORTED_SUFFIXES)}",
                )
        except _Refused as exc:
            result.failures.append(
                LoadFailure(doc_id=rel, source=source, rule=exc.rule, message=exc.message)
            )
    return result
