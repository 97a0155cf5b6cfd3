"""`watch DIR`: real file events (watchfiles) drive real ingest runs of the folder."""

from __future__ import annotations

import threading
import time

import pytest

from deployments.watch import DocumentFilter, changed_paths, watch_and_ingest

pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]


def _wait(predicate, timeout: float = 120.0) -> None:
    deadline = time.monotonic() + timeout
    while not predicate():
        if time.monotonic() > deadline:
            raise TimeoutError("condition not met")
        time.sleep(0.2)


@pytest.fixture
def watching(monkeypatch: pytest.MonkeyPatch) -> threading.Event:
    """Set once watchfiles has registered its OS watches (its RustNotify is built): changes
    made after that are seen."""
    import watchfiles.main
    from watchfiles._rust_notify import RustNotify

    ready = threading.Event()

    class Notify:
        def __init__(self, *args, **kwargs) -> None:
            self._inner = RustNotify(*args, **kwargs)
            ready.set()

        def __enter__(self):
            self._inner.__enter__()
            return self._inner

        def __exit__(self, *exc) -> None:
            self._inner.__exit__(*exc)

    monkeypatch.setattr(watchfiles.main, "RustNotify", Notify)
    return ready


def test_new_and_changed_files_are_ingested_and_reported(prefect_harness, home, tmp_path, watching):
    from flows.ingest import ingest_documents

    folder = tmp_path / "docs"
    folder.mkdir()
    (folder / "fjell.txt").write_text("The Fjell S1 is rated IP67.", encoding="utf-8")
    results: list[dict] = []

    def ingest(paths: list[str]) -> dict:
        result = ingest_documents(paths)
        results.append(result)
        return result

    stop = threading.Event()
    watcher = threading.Thread(
        target=watch_and_ingest,
        kwargs={"directory": folder, "ingest": ingest, "stop_event": stop, "debounce_ms": 300},
        daemon=True,
    )
    watcher.start()
    try:
        _wait(lambda: len(results) == 1)  # the initial ingest of the folder
        assert results[0]["counts"]["new"] == 1
        assert watching.wait(60), "watchfiles never started watching"
        (folder / "aurora.txt").write_text("The Aurora K2 holds 1.7 litres.", encoding="utf-8")
        (folder / ".aurora.txt.swp").write_text("editor noise", encoding="utf-8")
        _wait(lambda: len(results) >= 2)
        (folder / "fjell.txt").write_text("The Fjell S1 is rated IP68.", encoding="utf-8")
        _wait(lambda: any(r["counts"].get("changed") for r in results[1:]))
    finally:
        stop.set()
        watcher.join(timeout=30)
    changes = [(c["doc_id"], c["change"]) for r in results[1:] for c in r["changes"]]
    assert ("aurora.txt", "new") in changes and ("fjell.txt", "changed") in changes
    assert not any(doc.startswith(".") for doc, _ in changes)
    assert not watcher.is_alive()


def test_watching_a_missing_folder_fails_fast(tmp_path):
    with pytest.raises(NotADirectoryError, match="rule: exists"):
        watch_and_ingest(tmp_path / "nope", ingest=lambda paths: None)


def test_editor_noise_is_filtered():
    from watchfiles import Change

    keep = DocumentFilter()
    assert keep(Change.added, "/d/report.pdf")
    assert not keep(Change.added, "/d/.report.pdf.swp")
    assert not keep(Change.modified, "/d/report.pdf.part")
    assert changed_paths(
        [(Change.added, "/d/b.txt"), (Change.modified, "/d/a.txt"), (Change.modified, "/d/a.txt")]
    ) == ["/d/a.txt", "/d/b.txt"]
