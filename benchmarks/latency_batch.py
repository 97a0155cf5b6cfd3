"""Two figures on a fresh home: one-item fast-path latency and a 1,000-item flow run.

    python -m benchmarks.latency_batch NAME     # prints one JSON line

The one-item calls bring contexts never seen (``benchmarks.run._fast_path_ms``, 40 calls
after 3 warm-ups); the batch is one ``verify-items`` flow run on a JSONL of 1,000 items on
the local Dask cluster, after a 5-item warm-up run.
"""

from __future__ import annotations

import json
import os
import sys
import tempfile
import time


def main() -> None:
    home = tempfile.mkdtemp(prefix="latency-batch-")
    os.environ["VERDICTFLOW_HOME"] = home
    from benchmarks import workload
    from benchmarks.run import _fast_path_ms
    from flows.runtime import task_runner
    from flows.verify import verify_items

    offset = 2_000_000 - 2_000_000 % workload.PRODUCTS + 500
    out = {"tree": sys.argv[1] if len(sys.argv) > 1 else "", "fast_path_ms": None}
    out["fast_path_ms"] = _fast_path_ms(40, offset)
    entry = verify_items.with_options(task_runner=task_runner())
    flow = getattr(entry, "flow", entry)  # before 757f28b, with_options returned the flow
    flow(items=workload.items(5, offset=offset + 5000))  # warm: cluster, models
    path = os.path.join(home, "items.jsonl")
    with open(path, "w") as handle:
        handle.writelines(json.dumps(i) + "\n" for i in workload.items(1000, offset=offset + 100))
    started = time.perf_counter()
    result = flow(path=path)
    wall = time.perf_counter() - started
    claims = result.counts["claims"]
    out["batch_1000"] = {"s": round(wall, 1), "claims_per_s": round(claims / wall, 1)}
    print(json.dumps(out))


if __name__ == "__main__":
    main()
