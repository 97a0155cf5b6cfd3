"""The dashboard's pages by name, so that one page can open another with parameters."""

from __future__ import annotations

from typing import Any

import streamlit as st

# Filled by app.py on every run, before the page runs: name -> StreamlitPage.
PAGES: dict[str, Any] = {}


def go(name: str, **params: str) -> None:
    """Open page ``name`` with these query parameters (e.g. ``go("run", run=run_id)``)."""
    st.switch_page(PAGES[name], query_params=params)
