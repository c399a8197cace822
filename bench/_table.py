"""`make bench`: runs every benchmark under bench/ (but the _*.py helpers), one after the other, and prints one
table of their figures — each with its target, the baseline measured in the same run and the ratio — then writes
them to bench/results/latest.json, so that a regression shows at a glance.

Each benchmark reports its figures through `_support.report()` into a file this runner names
(XIAONENG_BENCH_RESULTS); its own output goes to bench/results/logs/NAME.log (BENCH_VERBOSE=1: to the terminal
too). BENCH_QUICK=1 runs each with short rounds and small sizes (QUICK below) to check that everything runs
and reports: its figures are not the targets' and go to bench/results/quick.json instead. BENCH_ONLY="a b"
runs only the benchmarks named (file names without .py): their entries in the JSON file are replaced, the
others' kept, so the file always holds the latest figures of every benchmark (each with its date and commit).

    .venv/bin/python bench/_table.py
"""

import datetime
import json
import os
import platform
import shlex
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
RESULTS = os.path.join(HERE, "results")
RESULTS_ENV = "XIAONENG_BENCH_RESULTS"  # as _support.RESULTS_ENV (imported by the benchmarks, not here)

# Arguments of a quick run: a few seconds of load, small data; enough to see every figure come out.
QUICK = {
    "appeals_intake": "--seconds 3 --rounds 1 --warmup 1",
    "appeals_monitor": "--cases 50",
    "approvals_actions": "--seconds 3 --rounds 1 --warmup 1 --applications 100",
    "approvals_monitor": "--applications 5000 --batch 100",
    "demo_load": "--appeals 400 --applications 250",
    "hot_issues": "--rows 20000 --runs 2",
    "notify_deliveries": "--events 300 --outage-events 50 --outage 3",
    "outbox_latency": "--events 50",
    "scoring_live": "--events 2000",
    "scoring_replay": "--facts 50000",
}
QUICK_TIMEOUT_S = 600


def benchmarks() -> list[str]:
    names = sorted(f[:-3] for f in os.listdir(HERE) if f.endswith(".py") and not f.startswith("_"))
    only = os.environ.get("BENCH_ONLY", "").split()
    unknown = set(only) - set(names)
    if unknown:
        sys.exit(f"BENCH_ONLY names no benchmark: {', '.join(sorted(unknown))} (there are: {', '.join(names)})")
    return [n for n in names if not only or n in only]


def run(name: str, quick: bool, verbose: bool) -> dict:
    """One benchmark as a process of its own; its figures and how it ended."""
    args = shlex.split(QUICK.get(name, "")) if quick else []
    log_path = os.path.join(RESULTS, "logs", f"{name}.log")
    with tempfile.NamedTemporaryFile("r", suffix=".jsonl", delete=False) as figures_file:
        figures_path = figures_file.name
    env = {**os.environ, RESULTS_ENV: figures_path, "PYTHONUNBUFFERED": "1"}
    command = [sys.executable, os.path.join(HERE, f"{name}.py"), *args]
    print(f"== {name} {' '.join(args)}".rstrip(), flush=True)
    started_at = datetime.datetime.now(datetime.UTC).isoformat(timespec="seconds")
    started = time.monotonic()
    with open(log_path, "w", encoding="utf-8") as log:
        proc = subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                text=True, encoding="utf-8", errors="replace")
        for line in proc.stdout:
            log.write(line)
            if verbose:
                print(f"   {line}", end="", flush=True)
        try:
            code = proc.wait(timeout=QUICK_TIMEOUT_S if quick else None)
        except subprocess.TimeoutExpired:
            proc.kill()
            code = proc.wait()
    seconds = time.monotonic() - started
    with open(figures_path, encoding="utf-8") as fh:
        figures = [json.loads(line) for line in fh if line.strip()]
    os.unlink(figures_path)
    for figure in figures:
        figure.pop("bench", None)
    print(f"   exit {code} after {seconds:.0f} s, {len(figures)} figure(s); log: {os.path.relpath(log_path, ROOT)}",
          flush=True)
    return {"bench": name, "started_at": started_at, "commit": git_commit(), "args": args, "exit_code": code,
            "seconds": round(seconds, 1), "log": os.path.relpath(log_path, ROOT), "figures": figures}


def number(value) -> str:
    if value is None:
        return "-"
    if abs(value) >= 100 or value == int(value):
        return f"{value:,.0f}"
    return f"{value:.3g}"


def table(results: list[dict]) -> str:
    header = ("benchmark", "figure", "value", "unit", "baseline", "ratio", "target", "met")
    rows = []
    for r in results:
        if not r["figures"]:
            rows.append((r["bench"], f"no figures (exit {r['exit_code']}; see {r['log']})", "-", "", "-", "-", "-",
                         "FAILED"))
        for f in r["figures"]:
            met = {True: "yes", False: "NO", None: "-"}[f["met"]]
            ratio = "-" if f["ratio"] is None else f"{f['ratio']:.2f}x"
            rows.append((r["bench"], f["name"], number(f["figure"]), f["unit"], number(f["baseline"]), ratio,
                         f["target"], met))
    widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
    right = {2, 4, 5}  # numbers

    def fmt(row):
        return "  ".join(str(c).rjust(w) if i in right else str(c).ljust(w)
                         for i, (c, w) in enumerate(zip(row, widths, strict=True))).rstrip()

    return "\n".join([fmt(header), fmt(tuple("-" * w for w in widths)), *(fmt(row) for row in rows)])


def git_commit() -> str | None:
    try:
        out = subprocess.run(["git", "rev-parse", "--short", "HEAD"], cwd=ROOT, capture_output=True, text=True,
                             timeout=10)
        dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"], cwd=ROOT,
                               capture_output=True, text=True, timeout=10).stdout.strip()
        return out.stdout.strip() + ("+dirty" if dirty else "") if out.returncode == 0 else None
    except (OSError, subprocess.SubprocessError):
        return None


def main() -> int:
    quick = os.environ.get("BENCH_QUICK", "") not in ("", "0")
    verbose = os.environ.get("BENCH_VERBOSE", "") not in ("", "0")
    names = benchmarks()
    if not names:
        print("no benchmarks under bench/")
        return 0
    os.makedirs(os.path.join(RESULTS, "logs"), exist_ok=True)
    started = datetime.datetime.now(datetime.UTC)
    results = [run(name, quick, verbose) for name in names]
    figures = [f for r in results for f in r["figures"]]
    unmet = [f for f in figures if f["met"] is False]
    failed = [r["bench"] for r in results if r["exit_code"] != 0]
    print()
    print(f"benchmarks{' (QUICK: short rounds, small sizes; not the targets’ conditions)' if quick else ''}, "
          f"{os.cpu_count()} CPUs, {started:%Y-%m-%d %H:%M} UTC")
    print(table(results))
    print(f"{len(figures)} figures: {sum(f['met'] is True for f in figures)} targets met, {len(unmet)} not met, "
          f"{sum(f['met'] is None for f in figures)} for the record; benchmarks that exited non-zero: "
          f"{', '.join(failed) or 'none'}")
    path = os.path.join(RESULTS, "quick.json" if quick else "latest.json")
    kept = []
    if os.path.exists(path):  # a partial run (BENCH_ONLY) keeps the other benchmarks' latest figures
        with open(path, encoding="utf-8") as fh:
            kept = [r for r in json.load(fh).get("benchmarks", []) if r["bench"] not in names]
    with open(path, "w", encoding="utf-8") as fh:
        json.dump({"updated_at": started.isoformat(timespec="seconds"), "quick": quick,
                   "machine": {"cpus": os.cpu_count(), "python": platform.python_version(),
                               "platform": platform.platform()},
                   "benchmarks": sorted(kept + results, key=lambda r: r["bench"])}, fh, ensure_ascii=False, indent=1)
        fh.write("\n")
    print(f"written to {os.path.relpath(path, ROOT)}")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
