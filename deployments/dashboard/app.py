"""Entry of the dashboard: ``streamlit run deployments/dashboard/app.py`` (or
``verdictflow dashboard``). The database is ``VERDICTFLOW_DATABASE_URL`` (SQLite under
``VERDICTFLOW_HOME`` by default)."""

from __future__ import annotations

import time

import streamlit as st

from deployments.dashboard import (
    nav,
    page_calibration,
    page_changes,
    page_experts,
    page_overview,
    page_run,
    state,
)

st.set_page_config(page_title="verdictflow dashboard", layout="wide")
nav.PAGES.update(
    overview=st.Page(page_overview.render, title="Overview", url_path="overview", default=True),
    run=st.Page(page_run.render, title="A run", url_path="run"),
    changes=st.Page(page_changes.render, title="What changed", url_path="changes"),
    experts=st.Page(page_experts.render, title="Experts", url_path="experts"),
    calibration=st.Page(page_calibration.render, title="Calibration", url_path="calibration"),
)
page = st.navigation(list(nav.PAGES.values()))
st.sidebar.caption(f"database: `{state.database_label()}`")
started = time.perf_counter()
if state.ready():
    page.run()
# How long this run of the page took here (its reads and figures), for whoever wonders.
st.sidebar.caption(f"page drawn in {1000 * (time.perf_counter() - started):.0f} ms")
