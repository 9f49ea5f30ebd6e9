"""The background work each process repeats keeps going through failures, and says which kind
each was: the database being down is one warning line a round, anything else a traceback."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import pytest

from hub.periodic import repeat


async def rounds_of(failure: Exception, caplog: pytest.LogCaptureFixture) -> int:
    calls = 0

    async def work() -> None:
        nonlocal calls
        calls += 1
        raise failure

    with caplog.at_level(logging.WARNING, logger="hub.periodic"):
        task = asyncio.create_task(repeat(work, 0.01, "linking audit events"))
        await asyncio.sleep(0.1)
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task
    return calls


async def test_a_database_that_is_down_is_a_warning_a_round_without_a_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    down = ConnectionRefusedError(111, "Connect call failed ('127.0.0.1', 5432)")
    assert await rounds_of(down, caplog) > 1  # it went on
    assert caplog.records
    for record in caplog.records:
        assert (record.levelname, record.exc_info) == ("WARNING", None)
        assert "the database is unavailable" in record.getMessage()


async def test_any_other_failure_is_an_error_with_its_traceback(
    caplog: pytest.LogCaptureFixture,
) -> None:
    assert await rounds_of(ValueError("a bug"), caplog) > 1
    assert caplog.records
    for record in caplog.records:
        assert record.levelname == "ERROR" and record.exc_info is not None
