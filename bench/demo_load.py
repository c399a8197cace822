"""The demo year at a larger size through `make run`'s first start: how long loading it takes and at what rate
the services take the requests, against the default size measured in the same run (the baseline). Each size
runs scripts/run_local.py on a fresh var/ and vhost (the four services as `nameko run` processes on SQLite)
and reads the demo's own summary line; then it checks through the API that every appeal arrived.

    .venv/bin/python bench/demo_load.py [--appeals 3000] [--applications 2000] [--workers 4]
"""

import argparse
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import requests

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _support import bench_vhost, report  # noqa: E402

from services.kernel.registry import SERVICES as REGISTRY  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SUMMARY = re.compile(r"\[demo\] (\d+) requests in ([\d.]+) s, (\d+) records created, (\d+) skipped, (\d+) failed")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def load(appeals: int, applications: int, workers: int) -> dict:
    with bench_vhost() as amqp, tempfile.TemporaryDirectory(prefix="xiaoneng-demo-bench-") as tmp:
        var = Path(tmp) / "var"
        env = {**os.environ, "XIAONENG_VAR_DIR": str(var), "AMQP_URI": amqp, "KEYS_FILE": str(var / "keys.yaml"),
               "XIAONENG_DEMO_ARGS": f"--appeals {appeals} --applications {applications} --workers {workers}",
               "LOG_LEVEL": "WARNING"}
        ports = {}
        for name in REGISTRY:
            ports[name] = free_port()
            env[f"{name.upper()}_HTTP"] = f"127.0.0.1:{ports[name]}"
        console = Path(tmp) / "console.txt"
        started = time.monotonic()
        with open(console, "wb") as out:
            proc = subprocess.Popen([sys.executable, "scripts/run_local.py"], cwd=ROOT, env=env,
                                    stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT)
        try:
            deadline = time.monotonic() + 1800
            while (match := SUMMARY.search(console.read_text())) is None:
                if proc.poll() is not None or time.monotonic() > deadline:
                    raise SystemExit(f"run_local.py did not load the demo:\n{console.read_text()[-3000:]}")
                time.sleep(0.5)  # polling a file another process writes
            loaded_after = time.monotonic() - started
            keys = [line.split() for line in (var / "demo-keys.txt").read_text().splitlines()
                    if line and not line.startswith("#")]
            operator = next(row[-1] for row in keys if row[0] == "operator")
            total = requests.get(f"http://127.0.0.1:{ports['appeals']}/api/v1/appeals", timeout=30,
                                 headers={"Authorization": f"Bearer {operator}"}).json()["total"]
        finally:
            proc.send_signal(signal.SIGINT)
            proc.wait(timeout=60)
        sent, seconds, created, skipped, failed = match.groups()
        return {"requests": int(sent), "seconds": float(seconds), "created": int(created), "failed": int(failed),
                "appeals_stored": total, "first_start_to_loaded": loaded_after}


def main() -> int:
    p = argparse.ArgumentParser()
    p.add_argument("--appeals", type=int, default=3000)
    p.add_argument("--applications", type=int, default=2000)
    p.add_argument("--workers", type=int, default=4)
    args = p.parse_args()
    base = load(300, 200, args.workers)
    big = load(args.appeals, args.applications, args.workers)
    for label, r in (("default 300/200 (baseline)", base), (f"{args.appeals}/{args.applications}", big)):
        print(f"{label:<28} {r['requests']:>6} requests in {r['seconds']:6.1f} s = {r['requests'] / r['seconds']:6.1f} "
              f"req/s; {r['created']} created, {r['failed']} failed, {r['appeals_stored']} appeals stored; "
              f"make run start to loaded {r['first_start_to_loaded']:.1f} s")
    ratio = (big["requests"] / big["seconds"]) / (base["requests"] / base["seconds"])
    print(f"throughput at the larger size vs the default size: {ratio:.2f}x")
    report(f"demo load {args.appeals}/{args.applications}", big["requests"] / big["seconds"], "req/s",
           baseline=base["requests"] / base["seconds"], target="for the record (baseline: default size)", met=None)
    report("make run start to demo loaded, default size", base["first_start_to_loaded"], "s",
           target="<= 120 s", met=base["first_start_to_loaded"] <= 120)
    report("demo requests failed", base["failed"] + big["failed"], "requests", target="0",
           met=not (base["failed"] or big["failed"]))
    return 1 if base["failed"] or big["failed"] else 0


if __name__ == "__main__":
    sys.exit(main())
