"""Sends the demo's requests to the services: chains in parallel (a few threads), each chain in order, the ids
of what a chain creates filled into its later paths. A re-run is harmless: creations are idempotent by
`external_ref` (200 with the existing record), and a chain's later steps are sent only when its creation was
new in this run, so nothing is done twice."""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import requests

from .generate import Request

KEY_RETRY_SECONDS = 5.0  # services re-read the keys file about once a second: a fresh key may need a moment


@dataclass
class Failure:
    request: Request
    status: int | None
    answer: str


@dataclass
class Result:
    sent: Counter = field(default_factory=Counter)  # (what, status) -> count
    skipped: Counter = field(default_factory=Counter)  # what -> count (parent not new in this run)
    failures: list[Failure] = field(default_factory=list)
    unavailable: dict[str, str] = field(default_factory=dict)  # service -> why its requests were skipped
    seconds: float = 0.0

    @property
    def created(self) -> int:
        return sum(n for (what, status), n in self.sent.items() if status == 201)

    def total(self) -> int:
        return sum(self.sent.values())

    def summary(self) -> str:
        by_what: dict[str, Counter] = {}
        for (what, status), n in self.sent.items():
            by_what.setdefault(what, Counter())[status] += n
        lines = [f"{self.total()} requests in {self.seconds:.1f} s, {self.created} records created, "
                 f"{sum(self.skipped.values())} skipped, {len(self.failures)} failed"]
        for what in sorted(by_what):
            statuses = ", ".join(f"{status}×{n}" for status, n in sorted(by_what[what].items()))
            lines.append(f"  {what:<42} {statuses}")
        for service, why in sorted(self.unavailable.items()):
            lines.append(f"  {service}: skipped ({why})")
        for failure in self.failures[:10]:
            r = failure.request
            lines.append(f"  FAILED {r.what} {r.method} {r.path} [{r.chain}] -> {failure.status}: "
                         f"{failure.answer[:300]}")
        return "\n".join(lines)


def chains_of(requests_: Iterable[Request]) -> list[list[Request]]:
    chains: dict[str, list[Request]] = {}
    for r in requests_:
        chains.setdefault(r.chain, []).append(r)
    return list(chains.values())


SETUP = "setup:"  # chains named so (the registers the year refers to) are sent first, before all others


def run(requests_: Iterable[Request], urls: dict[str, str], keys: dict[str, str], *, workers: int = 4,
        progress: Callable[[int, int], None] | None = None, timeout: float = 30.0) -> Result:
    """Send every request; `urls` maps a service to its base URL, `keys` a request's `key` to an API key. The
    setup chains first, in this thread; then the others in parallel."""
    all_chains = chains_of(requests_)
    setup = [c for c in all_chains if c[0].chain.startswith(SETUP)]
    chains = [c for c in all_chains if not c[0].chain.startswith(SETUP)]
    result = Result()
    lock = threading.Lock()
    started = time.monotonic()
    setup_session = requests.Session()
    setup_session.trust_env = False
    for chain in setup:
        _run_chain(setup_session, chain, urls, keys, result, lock, timeout)
    todo: queue.Queue = queue.Queue()
    for chain in chains:
        todo.put(chain)
    done = [0]

    def worker() -> None:
        session = requests.Session()
        session.trust_env = False  # never through a proxy from the environment: the services are local
        while True:
            try:
                chain = todo.get_nowait()
            except queue.Empty:
                return
            _run_chain(session, chain, urls, keys, result, lock, timeout)
            with lock:
                done[0] += 1
                if progress is not None:
                    progress(done[0], len(chains))

    threads = [threading.Thread(target=worker, name=f"demo-{i}", daemon=True) for i in range(max(1, workers))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    result.seconds = time.monotonic() - started
    return result


def _run_chain(session, chain: list[Request], urls, keys, result: Result, lock, timeout) -> None:
    ids: dict[str, int] = {}
    created: set[str] = set()
    for r in chain:
        with lock:
            why = result.unavailable.get(r.service)
        if why is not None or (r.parent is not None and r.parent not in created):
            with lock:
                result.skipped[r.what] += 1
            continue
        path = r.path.replace("{id}", str(ids[r.parent])) if "{id}" in r.path else r.path
        status, answer = _send(session, r.method, urls[r.service] + path, keys[r.key], r.body, timeout)
        if status is None or (status in (404, 405) and r.service == "scoring" and not ids):
            # a service that is not there (the scoring API may not be deployed): skip its part, say why
            with lock:
                result.unavailable.setdefault(r.service, f"{r.method} {path}: {status or answer}")
                result.skipped[r.what] += 1
            continue
        with lock:
            result.sent[(r.what, status)] += 1
        if status not in r.expect:
            with lock:
                result.failures.append(Failure(r, status, answer if isinstance(answer, str) else str(answer)))
            return  # the rest of the chain builds on this step
        if r.ref is not None and isinstance(answer, dict) and "id" in answer:
            ids[r.ref] = answer["id"]
            if status == 201:
                created.add(r.ref)


def _send(session, method: str, url: str, key: str, body, timeout: float):
    """(status, answer as JSON or text); (None, why) when the service cannot be reached."""
    deadline = time.monotonic() + KEY_RETRY_SECONDS
    attempts = 0
    while True:
        attempts += 1
        try:
            resp = session.request(method, url, json=body, timeout=timeout,
                                   headers={"Authorization": f"Bearer {key}"})
        except requests.ConnectionError as exc:
            if attempts < 3:
                time.sleep(0.5 * attempts)  # a service restarting; not a synchronisation with it
                continue
            return None, f"cannot connect ({exc.__class__.__name__})"
        if resp.status_code == 401 and time.monotonic() < deadline:
            time.sleep(0.25)  # the key was just made: the service re-reads its keys file shortly
            continue
        try:
            return resp.status_code, resp.json()
        except ValueError:
            return resp.status_code, resp.text
