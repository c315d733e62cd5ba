"""Who may use the server's memory and its inference threads, and when.

A request costs memory twice: its body while it is read and held, and its working memory while
it is matted (:func:`fusionmat.limits.estimate_bytes`, known from the photo's header before
anything is decoded). :class:`Admission` keeps both within one budget (the server's
``--max-memory-mb`` less what the loaded engines take) and hands out the inference threads:

- a body is reserved as it starts (its declared length, or the upload limit); one that does not
  fit now is answered 503 at once, never queued while holding a connection;
- a request takes its place in the queue only once its body is complete and its options and
  header are checked; past ``max_queue`` requests waiting or running it is answered 503;
- waiting requests are let in smallest first, when a thread is free and their memory fits: a
  cheap photo never waits behind a queue of expensive ones, only behind those already running;
- one that could never fit (more than the whole budget) is refused at once (422).
"""
from __future__ import annotations

import asyncio
import heapq
import itertools
import os
from pathlib import Path

MB = 1024 * 1024


class Refused(Exception):
    """Cannot be admitted: ``status`` 503 (busy, try again) or 422 (never fits)."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status


def machine_memory() -> int:
    """Bytes of memory this process may use: the machine's, or its cgroup's limit if lower."""
    total = os.sysconf("SC_PHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    for limit_file in ("/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"):
        try:
            text = Path(limit_file).read_text().strip()
        except OSError:
            continue
        if text.isdigit():
            total = min(total, int(text))
    return total


def default_max_memory_mb() -> int:
    """The default of ``--max-memory-mb``: half of :func:`machine_memory`, at least 1 GB."""
    return max(1024, machine_memory() // 2 // MB)


def resident_bytes() -> int:
    """This process's resident memory now (Linux; 0 where /proc is missing)."""
    try:
        return int(Path("/proc/self/statm").read_text().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError):
        return 0


class Admission:
    """The memory budget (``budget`` bytes) and ``slots`` inference threads of one server; at most
    ``max_queue`` requests waiting or running. Used from the event loop only."""

    def __init__(self, budget: int, slots: int, max_queue: int) -> None:
        self.budget = budget
        self.slots = slots
        self.max_queue = max_queue
        self.used = 0
        self.running = 0
        self.queued = 0
        self._waiting: list[tuple[int, int, asyncio.Future]] = []
        self._order = itertools.count()

    @property
    def busy(self) -> int:
        """Requests waiting or running."""
        return self.queued + self.running

    def reserve(self, nbytes: int) -> None:
        """Take ``nbytes`` for a body now, or Refused(503)."""
        if self.used + nbytes > self.budget:
            raise Refused(503, f"busy: the server's memory is taken by {self.busy} requests; try again shortly")
        self.used += nbytes

    def release(self, nbytes: int) -> None:
        """Give back what :meth:`reserve` took."""
        self.used -= nbytes
        self._wake()

    async def enter(self, cost: int, hint: str = "") -> None:
        """Wait for a thread and ``cost`` bytes (smallest first); Refused(422) for a cost over the
        whole budget (``hint`` says what would need less), Refused(503) past the queue bound.
        Cancelling the wait gives the place back."""
        if cost > self.budget:
            raise Refused(422, f"needs about {cost // MB} MB to matte, over this server's memory budget of "
                               f"{self.budget // MB} MB" + (f" ({hint} needs less)" if hint else ""))
        if self.busy >= self.max_queue:
            raise Refused(503, f"busy: {self.busy} requests in progress; try again shortly")
        if not self._waiting and self._fits(cost):
            self._take(cost)
            return
        future = asyncio.get_running_loop().create_future()
        entry = (cost, next(self._order), future)
        heapq.heappush(self._waiting, entry)
        self.queued += 1
        try:
            await future
        except BaseException:
            if future.done() and not future.cancelled():
                self.leave(cost)  # granted as it was cancelled: hand it on
            elif entry in self._waiting:  # (else _wake already dropped it)
                self._waiting.remove(entry)
                heapq.heapify(self._waiting)
                self.queued -= 1
            raise

    def leave(self, cost: int) -> None:
        """Give back a thread and ``cost`` bytes taken by :meth:`enter`."""
        self.running -= 1
        self.used -= cost
        self._wake()

    def _fits(self, cost: int) -> bool:
        return self.running < self.slots and self.used + cost <= self.budget

    def _take(self, cost: int) -> None:
        self.running += 1
        self.used += cost

    def _wake(self) -> None:
        while self._waiting and self._fits(self._waiting[0][0]):
            cost, _, future = heapq.heappop(self._waiting)
            self.queued -= 1
            if future.cancelled():
                continue
            self._take(cost)
            future.set_result(None)
