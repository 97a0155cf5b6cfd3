"""The warm HTTP API (``verdictflow api``): FastAPI under uvicorn, keys, limits, metrics."""
