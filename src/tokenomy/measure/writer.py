"""Storage off the event loop: finished requests are appended to a deque that one thread, the only user of the
DuckDB connection, drains every ``poll_s`` and inserts in batches. A hard crash loses at most the last batch
(``max_delay_s`` or ``max_rows`` requests); Ctrl-C loses nothing that finished: closing writes what is queued."""

from __future__ import annotations

import queue
import threading
import time
from collections import deque
from collections.abc import Callable
from concurrent.futures import Future
from typing import Any

from tokenomy.measure.client import RequestResult
from tokenomy.store import Store, request_values

_STOP = object()
STATEMENT_ROWS = 256  # rows per INSERT: short GIL holds while the values are gathered


def request_row(run_id: str, r: RequestResult) -> tuple:
    """A RequestResult as a `requests` row (store.REQUEST_COLUMNS order)."""
    return request_values(run_id, r)


class BatchWriter:
    """``put`` never blocks; ``call`` runs a store method on the writer thread after every row put before it."""

    def __init__(self, store: Store, max_rows: int = 1024, max_delay_s: float = 0.5, poll_s: float = 0.05):
        self.store = store
        self.max_rows, self.max_delay_s, self.poll_s = max_rows, max_delay_s, poll_s
        self.q: queue.SimpleQueue = queue.SimpleQueue()  # control: calls and stop
        self.rows: deque = deque()  # finished requests: appended without waking the thread
        self.stored = 0
        self.batches = 0
        self.lost = 0  # rows that could not be written (storage failed)
        self.error: str | None = None
        self.thread = threading.Thread(target=self._loop, name="tokenomy-db-writer", daemon=True)
        self.thread.start()

    def put(self, run_id: str, r: RequestResult) -> None:
        self.rows.append((run_id, r))  # thread-safe, and no wake-up per request on the event loop

    def call(self, fn: Callable[..., Any], *args: Any, **kw: Any) -> Any:
        """Run ``fn(*args, **kw)`` on the writer thread (after the rows queued so far); its result or error."""
        fut: Future = Future()
        self.q.put((fn, args, kw, fut))
        return fut.result()

    def flush(self) -> None:
        self.call(lambda: None)

    def close(self) -> None:
        self.q.put(_STOP)
        self.thread.join()

    def _write(self, rows: list[tuple]) -> None:
        if not rows:
            return
        if self.error:
            self.lost += len(rows)
            return
        done = 0
        try:
            for i in range(0, len(rows), STATEMENT_ROWS):
                part = rows[i : i + STATEMENT_ROWS]
                self.store.add_requests(part)
                done += len(part)
            self.batches += 1
        except Exception as exc:  # disk full, file removed: counted and said at the end
            self.error = f"{type(exc).__name__}: {exc}"[:300]
            self.lost += len(rows) - done
        finally:
            self.stored += done

    def _loop(self) -> None:
        rows: list[tuple] = []
        deadline = None
        pending = self.rows
        while True:
            try:
                item = self.q.get(timeout=self.poll_s)
            except queue.Empty:
                item = None
            while pending:
                rows.append(request_row(*pending.popleft()))
            if rows and deadline is None:
                deadline = time.monotonic() + self.max_delay_s
            if item is None:
                if rows and (len(rows) >= self.max_rows or time.monotonic() >= deadline):
                    self._write(rows)
                    rows, deadline = [], None
                continue
            self._write(rows)  # a call or stop: every row put before it first
            rows, deadline = [], None
            if item is _STOP:
                return
            fn, args, kw, fut = item
            try:
                fut.set_result(fn(*args, **kw))
            except BaseException as exc:  # handed back to the caller
                fut.set_exception(exc)
