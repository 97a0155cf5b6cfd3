"""What every page shares: the database connection, the empty state, run pickers, formats."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, time, timedelta
from typing import Any, TypeVar

import sqlalchemy as sa
import streamlit as st
from sqlalchemy.engine import Connection, Engine

from storage import dashboard as D
from storage.engine import make_engine
from storage.models import runs_t
from verdictflow.config import get_settings

T = TypeVar("T")

COLOURS: dict[str, str] = {
    "supported": "#2e7d32",
    "contradicted": "#c62828",
    "unsupported": "#ef8f00",
    "uncertain": "#6a1b9a",
}
DEMO_HINT = (
    "Run the demo to fill it: `make demo` (sets up `.venv` first) or `verdictflow demo` "
    "ingests the demo corpus and verifies the demo items; `verdictflow evaluate -d demo` adds "
    "a labelled run for the calibration page. Then reload this page."
)


@st.cache_resource(show_spinner=False)
def _engine(url: str) -> Engine:
    return make_engine(url)


def engine() -> Engine:
    """The engine of the configured database (one per process)."""
    return _engine(get_settings().db_url)


def database_label() -> str:
    """The database URL without its password."""
    return sa.engine.make_url(get_settings().db_url).render_as_string(hide_password=True)


@contextmanager
def connection() -> Iterator[Connection]:
    """A connection for one page's reads."""
    with engine().connect() as conn:
        yield conn


def read(fn: Callable[..., T], *args: Any, **kwargs: Any) -> T:
    """``fn(conn, *args, **kwargs)`` on a fresh connection."""
    with connection() as conn:
        return fn(conn, *args, **kwargs)


def ready() -> bool:
    """Whether there is anything to show; if not, draws the empty state and says why."""
    try:
        if not D.has_schema(engine()):
            _empty("The database has no verdictflow tables yet.")
            return False
        with connection() as conn:
            has_runs = conn.execute(sa.select(sa.literal(1)).select_from(runs_t).limit(1)).first()
    except sa.exc.OperationalError as exc:
        st.error(f"Cannot reach the database `{database_label()}`: {exc.orig or exc}")
        return False
    if has_runs is None:
        _empty("No runs are stored yet.")
        return False
    return True


def _empty(why: str) -> None:
    st.title("verdictflow dashboard")
    st.info(f"**Nothing to show yet.** {why}\n\n{DEMO_HINT}", icon=":material/info:")
    st.caption(
        f"Reading `{database_label()}`; point `VERDICTFLOW_DATABASE_URL` at another database "
        "to see its runs."
    )


def pick_run(options: list[dict[str, Any]], key: str, label: str = "Run") -> str | None:
    """A run picker bound to the ``run`` query parameter; None (and a message) when the
    parameter names a run that does not exist or there are no runs to pick."""
    wanted = st.query_params.get("run")
    ids = [o["run_id"] for o in options]
    if wanted and wanted not in ids:
        found = read(D.get_run, wanted)
        if found is None:
            st.error(f"Run `{wanted}` does not exist in this database.", icon=":material/error:")
            st.caption("Pick one of the stored runs below.")
            wanted = None
        else:
            options = [found, *options]
            ids.insert(0, wanted)
    if not options:
        return None
    by_id = {o["run_id"]: o for o in options}
    index = ids.index(wanted) if wanted in ids else 0
    chosen = st.selectbox(
        label, ids, index=index, key=f"{key}-{wanted}", format_func=lambda i: run_title(by_id[i])
    )
    before = st.query_params.get("run")
    if chosen != before:
        st.query_params["run"] = chosen
        if before is not None:  # another run: its item is not this run's
            st.query_params.pop("item", None)
    return chosen


def run_title(run: dict[str, Any]) -> str:
    """``run id · dataset · start time`` for pickers."""
    return f"{run['run_id']} · {run.get('dataset') or '-'} · {when(run.get('started_at'))}"


def when(value: datetime | None) -> str:
    """A timestamp as ``YYYY-MM-DD HH:MM`` UTC."""
    return value.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if value else "-"


def pct(value: float | None, digits: int = 1) -> str:
    """A share as a percentage (``-`` when undefined)."""
    return "-" if value is None else f"{100 * value:.{digits}f} %"


def num(value: float | None, digits: int = 3) -> str:
    """A number rounded (``-`` when undefined)."""
    return "-" if value is None else f"{value:.{digits}f}"


def date_range(key: str, kinds: tuple[str, ...] = ("verify",)) -> tuple[datetime, datetime]:
    """From / To date pickers over the stored runs' span; returns [since, until) in UTC."""
    first, last = read(D.time_span, kinds)
    lo = (first or datetime.now(UTC)).date()
    hi = (last or datetime.now(UTC)).date()
    left, right = st.columns(2)
    start = left.date_input("From", value=lo, key=f"{key}-from", format="YYYY-MM-DD")
    end = right.date_input("To", value=hi, key=f"{key}-to", format="YYYY-MM-DD")
    start = start if isinstance(start, date) else lo
    end = end if isinstance(end, date) else hi
    since = datetime.combine(start, time.min, tzinfo=UTC)
    until = datetime.combine(end, time.min, tzinfo=UTC) + timedelta(days=1)
    return since, until
