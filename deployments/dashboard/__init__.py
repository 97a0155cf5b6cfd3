"""The analytics dashboard (``verdictflow dashboard``): a Streamlit app over the stored runs.

``app.py`` is the entry Streamlit runs; one module per page (``page_*.py``; the prefix keeps
the page modules from shadowing top-level packages, since Streamlit puts the entry's folder
on ``sys.path``); the SQL behind every page is in ``storage.dashboard`` and
``storage.dashboard_stats``.
"""

from pathlib import Path

APP_PATH = Path(__file__).resolve().with_name("app.py")
