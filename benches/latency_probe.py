#!/usr/bin/env python3
"""Writes one small line-protocol request to URL every INTERVAL seconds until the file STOP
exists (or SECONDS pass), timing each; prints one JSON line: count, errors, p50, p99, max (ms).
Used by benches/scaleout.sh to compare write latency during replica moves with at rest.

usage: latency_probe.py URL SECONDS STOP_FILE [INTERVAL]"""
import json
import os
import sys
import time
import urllib.request


def main():
    url, seconds, stop = sys.argv[1], float(sys.argv[2]), sys.argv[3]
    interval = float(sys.argv[4]) if len(sys.argv) > 4 else 0.05
    lat, errors, i = [], 0, 0
    end = time.time() + seconds
    while time.time() < end and not os.path.exists(stop):
        i += 1
        t_ms = int(time.time() * 1000)
        body = f"probe,host=p value={i} {t_ms}\n".encode()
        req = urllib.request.Request(f"{url}/write?precision=ms", data=body, method="POST")
        t0 = time.perf_counter()
        try:
            with urllib.request.urlopen(req, timeout=30) as r:
                ok = r.status == 204
        except Exception:
            ok = False
        took = (time.perf_counter() - t0) * 1000
        if ok:
            lat.append(took)
        else:
            errors += 1
        time.sleep(max(0.0, interval - took / 1000))
    lat.sort()

    def q(p):
        return round(lat[min(len(lat) - 1, int(p * len(lat)))], 1) if lat else None

    print(json.dumps({"count": len(lat), "errors": errors, "p50": q(0.5), "p99": q(0.99),
                      "max": round(lat[-1], 1) if lat else None}))


if __name__ == "__main__":
    main()
