"""The server's admission: one memory budget and its inference threads, smallest first."""
from __future__ import annotations

import asyncio

import pytest

from fusionmat.serve.admission import Admission, Refused


def run(coroutine):
    return asyncio.run(coroutine)


def test_waiting_requests_are_let_in_smallest_first_when_a_thread_is_free():
    async def scenario():
        admission = Admission(budget=100, slots=1, max_queue=10)
        order = []
        await admission.enter(10)  # running

        async def request(cost):
            await admission.enter(cost)
            order.append(cost)
            admission.leave(cost)

        waiting = [asyncio.ensure_future(request(cost)) for cost in (50, 5, 20)]
        await asyncio.sleep(0)
        assert admission.busy == 4 and order == []
        admission.leave(10)
        await asyncio.gather(*waiting)
        return order, admission

    order, admission = run(scenario())
    assert order == [5, 20, 50] and admission.used == 0 and admission.busy == 0


def test_memory_is_shared_and_a_request_waits_for_its_share():
    async def scenario():
        admission = Admission(budget=100, slots=4, max_queue=10)
        await admission.enter(70)
        second = asyncio.ensure_future(admission.enter(40))
        await asyncio.sleep(0)
        assert not second.done() and admission.running == 1  # a thread is free, the memory is not
        admission.leave(70)
        await second
        return admission

    admission = run(scenario())
    assert admission.used == 40 and admission.running == 1


def test_what_can_never_fit_or_overflows_the_queue_is_refused():
    async def scenario():
        admission = Admission(budget=100, slots=1, max_queue=2)
        with pytest.raises(Refused) as never:
            await admission.enter(101)
        await admission.enter(10)
        queued = asyncio.ensure_future(admission.enter(10))
        await asyncio.sleep(0)
        with pytest.raises(Refused) as full:
            await admission.enter(10)
        queued.cancel()
        return never.value, full.value

    never, full = run(scenario())
    assert never.status == 422 and "needs about" in str(never)
    assert full.status == 503 and "busy" in str(full)


def test_a_cancelled_wait_gives_its_place_back():
    async def scenario():
        admission = Admission(budget=100, slots=1, max_queue=5)
        await admission.enter(10)
        gone = asyncio.ensure_future(admission.enter(10))
        await asyncio.sleep(0)
        gone.cancel()
        await asyncio.sleep(0)
        after = asyncio.ensure_future(admission.enter(10))
        admission.leave(10)
        await after
        return admission

    admission = run(scenario())
    assert admission.queued == 0 and admission.running == 1 and admission.used == 10


def test_bodies_are_reserved_now_or_refused_503():
    admission = Admission(budget=100, slots=1, max_queue=5)
    admission.reserve(60)
    with pytest.raises(Refused) as refused:
        admission.reserve(50)
    admission.release(60)
    admission.reserve(50)
    assert refused.value.status == 503 and admission.used == 50
