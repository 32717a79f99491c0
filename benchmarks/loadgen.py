"""A load generator run as a separate process: ``python -m benchmarks.loadgen URL SECONDS
THREADS``; prints JSON with the request rate and latency percentiles. Bounded in time."""

from __future__ import annotations

import http.client
import json
import statistics
import sys
import threading
import time
from urllib.parse import urlsplit


def main() -> None:
    url, seconds, threads = sys.argv[1], float(sys.argv[2]), int(sys.argv[3])
    latencies: list[float] = []
    errors = [0]
    lock = threading.Lock()
    stop = time.perf_counter() + seconds

    parts = urlsplit(url)
    target = parts.path + (f"?{parts.query}" if parts.query else "")

    def worker() -> None:
        # http.client, not httpx: the measure is the server's, and httpx's own per-request
        # Python work (about 2 ms for a 157 kB answer) competed with the server for the
        # 2 cores and inflated the latencies it reported
        conn = http.client.HTTPConnection(parts.hostname or "127.0.0.1", parts.port, timeout=30)
        try:
            while time.perf_counter() < stop:
                t0 = time.perf_counter()
                conn.request("GET", target, headers={"Accept": "application/fhir+json"})
                response = conn.getresponse()
                response.read()
                dt = time.perf_counter() - t0
                with lock:
                    latencies.append(dt)
                    if response.status != 200:
                        errors[0] += 1
        finally:
            conn.close()

    start = time.perf_counter()
    pool = [threading.Thread(target=worker) for _ in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    elapsed = time.perf_counter() - start
    latencies.sort()
    q = statistics.quantiles(latencies, n=100) if len(latencies) >= 2 else latencies * 99
    print(
        json.dumps(
            {
                "requests": len(latencies),
                "errors": errors[0],
                "rps": len(latencies) / elapsed,
                "p50_ms": q[49] * 1000,
                "p99_ms": q[98] * 1000,
            }
        )
    )


if __name__ == "__main__":
    main()
