"""Watch a folder and ingest it whenever files appear, change or go (watchfiles).

Each debounced batch of changes is one ingest run over the whole watched folder: document ids
are paths relative to the ingested root, so ingesting the folder (not single files) keeps them
stable, and ingest itself re-embeds only documents whose content hash changed and marks
vanished ones deleted. Ingest emits ``verdictflow.document.changed`` per changed document,
which starts reprocess-on-document-change.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from watchfiles import Change, DefaultFilter, watch

from verdictflow.config import get_settings

log = logging.getLogger(__name__)

Ingest = Callable[[list[str]], object]


class DocumentFilter(DefaultFilter):
    """Ignore editor swap files, hidden files and partial downloads."""

    ignore_suffixes = (".swp", ".swx", ".tmp", ".part", ".crdownload", "~")

    def __call__(self, change: Change, path: str) -> bool:
        name = Path(path).name
        if name.startswith(".") or name.endswith(self.ignore_suffixes):
            return False
        return super().__call__(change, path)


def changed_paths(changes: Iterable[tuple[Change, str]]) -> list[str]:
    """Sorted unique file paths of a batch of changes (folders themselves are skipped)."""
    return sorted({path for _change, path in changes if not Path(path).is_dir()})


def _default_ingest(paths: list[str]) -> object:
    from flows.ingest import ingest_documents

    return ingest_documents(paths)


def watch_and_ingest(
    directory: str | Path,
    ingest: Ingest | None = None,
    stop_event: threading.Event | None = None,
    initial: bool = True,
    debounce_ms: int | None = None,
) -> int:
    """Ingest ``directory`` once (``initial``), then again after every change until stopped.

    Args:
        directory: The folder to watch (recursively).
        ingest: Called with ``[directory]``; default: the ingest flow.
        stop_event: Set it to stop watching (Ctrl-C works too).
        initial: Ingest the whole folder before watching.
        debounce_ms: Changes within this window are one batch; default from settings.

    Returns:
        The number of ingest runs made.
    """
    directory = Path(directory)
    if not directory.is_dir():
        raise NotADirectoryError(f"watch {directory}: not a folder (rule: exists)")
    ingest = ingest or _default_ingest
    debounce = debounce_ms or get_settings().orchestration.watch_debounce_ms
    runs = 0
    if initial:
        ingest([str(directory)])
        runs += 1
    for changes in watch(
        directory, watch_filter=DocumentFilter(), debounce=debounce, stop_event=stop_event
    ):
        paths = changed_paths(changes)
        if not paths:
            continue
        log.info("%d file(s) changed (%s): ingesting %s", len(paths), paths[0], directory)
        try:
            ingest([str(directory)])
        except Exception:  # noqa: BLE001 - one bad batch must not stop the watcher
            log.exception("ingest of %s failed; watching on", directory)
        runs += 1
    return runs
