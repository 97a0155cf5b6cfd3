"""Chunking, embedding, the LanceDB chunk store and search."""

import os

# LanceDB's Rust logger reads this once, on import: keep its deprecation chatter out of logs.
os.environ.setdefault("LANCEDB_LOG", "error")
