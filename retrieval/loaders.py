"""Load documents from files: .txt, .md, .html, .pdf (one document per file) and .jsonl,
.csv, .parquet (one document per row, with a text column and an id column).

Every document gets a stable ``doc_id`` (the row's id, or the file's path relative to the
folder it was found in) and a content hash. An id taken from the path also carries an
``alt_id`` (the file's absolute path), which the ingest uses when another file already holds
the short one (``retrieval.ingest.plan_ingest``). Bad input never raises: each problem becomes a
``LoadFailure`` naming the document and the rule it broke, and the other documents go on; a
file of a type no loader reads, found in a folder, is listed in ``LoadResult.skipped``.
"""

from __future__ import annotations

import contextlib
import json
import math
import re
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
    # The id used instead of doc_id when another file holds doc_id (the absolute path, for
    # ids made from a path); None: doc_id is the data's own (a table's id column).
    alt_id: str | None = None


class LoadFailure(BaseModel):
    """A document (or a whole file) that could not be loaded, and the rule it broke."""

    model_config = ConfigDict(frozen=True)

    doc_id: str
    source: str
    rule: str
    message: str
    whole_file: bool = True
    alt_id: str | None = None  # as Document.alt_id

    def record(self) -> DocumentRecord:
        """As a failed DocumentRecord for storage."""
        return DocumentRecord(
            doc_id=self.doc_id,
            source=self.source,
            content_hash="",
            status="failed",
            error=f"{self.rule}: {self.message}",
        )


class SkippedFile(BaseModel):
    """A file found in a folder and not read, and why."""

    model_config = ConfigDict(frozen=True)

    source: str
    reason: str


class LoadResult(BaseModel):
    """What loading some paths gave: documents, failures, the files that were read and the
    files of a folder that were not (an unsupported type)."""

    documents: list[Document] = Field(default_factory=list)
    failures: list[LoadFailure] = Field(default_factory=list)
    files: list[str] = Field(default_factory=list)
    skipped: list[SkippedFile] = Field(default_factory=list)


class _Refused(Exception):
    def __init__(self, rule: str, message: str) -> None:
        super().__init__(message)
        self.rule = rule
        self.message = message


def document_hash(text: str, metadata: dict[str, Any]) -> str:
    """Content hash of a document: its text and its metadata."""
    meta = json.dumps(metadata, sort_keys=True, default=str)
    return text_hash(f"{text}\x00{meta}")


def make_document(
    doc_id: str, text: str, source: str, metadata: dict[str, Any], alt_id: str | None = None
) -> Document:
    """A Document with its content hash (``alt_id``: see ``Document``)."""
    return Document(
        doc_id=doc_id,
        text=text,
        source=source,
        content_hash=document_hash(text, metadata),
        metadata=metadata,
        alt_id=alt_id,
    )


def _unsupported(suffix: str) -> str:
    return f"{suffix or 'no suffix'} is not one of {', '.join(SUPPORTED_SUFFIXES)}"


def iter_files(
    paths: Sequence[str | Path], skipped: list[SkippedFile] | None = None
) -> Iterator[tuple[Path, Path]]:
    """(file, root) for every file named or found (recursively, supported types) in ``paths``.

    A named file is always yielded (an unsupported one fails when loaded); hidden files and
    folders inside a folder are passed over silently, other files of a type no loader reads
    are added to ``skipped`` with the reason.
    """
    for raw in paths:
        path = Path(raw).expanduser().resolve()
        if path.is_dir():
            for f in sorted(path.rglob("*")):
                rel = f.relative_to(path)
                if any(part.startswith(".") for part in rel.parts) or not f.is_file():
                    continue
                if f.suffix.lower() in SUPPORTED_SUFFIXES:
                    yield f, path
                elif skipped is not None:
                    reason = f"unsupported type: {_unsupported(f.suffix.lower())}"
                    skipped.append(SkippedFile(source=str(f), reason=reason))
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


# A title: a Markdown heading ("# Title", or "Title" underlined with "=" as Markdown and
# reStructuredText write it) or, in plain text, a short first line standing alone above a
# blank line, with no sentence end.
TITLE_MAX_CHARS = 120
_HEADING = re.compile(
    rf"\A\s*(?:#{{1,2}}[ \t]+(?P<atx>[^\n]+?)[ \t#]*|(?P<line>[^\n]{{1,{TITLE_MAX_CHARS}}}))\n"
)
_UNDERLINE = re.compile(r"[=\-]{3,}[ \t]*\n")


def text_title(text: str) -> str:
    """The title of a text document, or "" when it has none (see ``_HEADING``)."""
    m = _HEADING.match(text + "\n")
    if m is None:
        return ""
    if m.group("atx"):
        return m.group("atx").strip()
    line, rest = m.group("line").strip(), text[m.end() :]
    standalone = _UNDERLINE.match(rest) or (rest.startswith("\n") and rest.strip())
    if not line or not standalone or line[-1] in ".!?:;,":  # longer lines never match
        return ""
    return line


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
        text = _decode(path, data)
        title = text_title(text)
        extra = {"title": title} if title else {}
    if not text.strip():
        raise _Refused("empty_document", f"{path} has no text")
    return make_document(doc_id, text, source, {**meta, **extra}, alt_id=path.as_posix())


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


def _row_failure(
    doc_id: str, source: str, rule: str, message: str, alt_id: str | None = None
) -> LoadFailure:
    return LoadFailure(
        doc_id=doc_id, source=source, rule=rule, message=message, whole_file=False, alt_id=alt_id
    )


def _no_text_column(path: Path, rel: str, text_column: str, columns: list[str]) -> _Refused:
    found = ", ".join(repr(c) for c in columns) or "none"
    return _Refused(
        "missing_text_column",
        f"{rel} has no text column {text_column!r} (columns found: {found}); name the "
        "column that holds the text with --text-column (setting retrieval.text_column)",
    )


def _load_table(
    path: Path, rel: str, source: str, text_column: str, id_column: str
) -> tuple[list[Document], list[LoadFailure]]:
    data = _read_bytes(path)
    docs: list[Document] = []
    failures: list[LoadFailure] = []
    seen: set[str] = set()
    columns: dict[str, None] = {}  # every column seen, in order
    has_text_column = False
    for n, row, problem in _table_rows(path, data):
        fallback, alt_fallback = f"{rel}:{n}", f"{path.as_posix()}:{n}"
        if row is None:
            message = f"{rel}: {problem}"
            failures.append(_row_failure(fallback, source, "bad_row", message, alt_fallback))
            continue
        columns.update(dict.fromkeys(row))
        has_text_column = has_text_column or text_column in row
        raw_id = row.get(id_column)
        own_id = raw_id not in (None, "")
        doc_id = str(raw_id).strip() if own_id else fallback
        alt_id = None if own_id else alt_fallback
        text = row.get(text_column)
        if not isinstance(text, str) or not text.strip():
            message = f"{rel} row {n} (id {doc_id!r}) has no text in column {text_column!r}"
            failures.append(_row_failure(doc_id, source, "missing_text", message, alt_id))
            continue
        if doc_id in seen:
            message = f"{rel} row {n}: id {doc_id!r} repeats an earlier row"
            failures.append(_row_failure(doc_id, source, "duplicate_id", message, alt_id))
            continue
        seen.add(doc_id)
        meta = {
            k: _clean_value(v)
            for k, v in row.items()
            if k not in (text_column, id_column) and _clean_value(v) is not None
        }
        meta.update({"file_type": path.suffix.lower().lstrip("."), "row": n})
        docs.append(make_document(doc_id, text, source, meta, alt_id))
    if columns and not has_text_column:
        raise _no_text_column(path, rel, text_column, list(columns))
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
        Documents, per-document failures, the files read (absolute paths) and the files of
        the folders that were skipped (unsupported types), each with the reason.
    """
    settings = get_settings().retrieval
    text_column = text_column or settings.text_column
    id_column = id_column or settings.id_column
    result = LoadResult()
    for path, root in iter_files(paths, result.skipped):
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
                raise _Refused("unsupported_type", f"{path}: {_unsupported(suffix)}")
        except _Refused as exc:
            result.failures.append(
                LoadFailure(
                    doc_id=rel,
                    source=source,
                    rule=exc.rule,
                    message=exc.message,
                    alt_id=path.as_posix(),
                )
            )
    return result
