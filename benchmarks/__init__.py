"""verdictflow benchmarks: run with ``python -m benchmarks.run`` or ``verdictflow bench``."""
