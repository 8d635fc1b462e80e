"""The start-up settings the long-running processes share (glastonbury.process)."""

from __future__ import annotations

import ctypes.util
import sys

import pytest

from glastonbury.process import FreedMemoryReturner


@pytest.mark.skipif(not sys.platform.startswith("linux") or not ctypes.util.find_library("c"),
                    reason="glibc's malloc_trim is Linux's")
def test_the_allocator_is_trimmed_on_every_nth_call_only() -> None:
    returner = FreedMemoryReturner(every=3)
    assert [returner() for _ in range(7)] == [False, False, True, False, False, True, False]


def test_without_glibc_it_is_a_counter_that_never_trims() -> None:
    # macOS's libSystem and musl have no malloc_trim; the process runs on without trimming.
    returner = FreedMemoryReturner(every=1, libc_name="libno-such-libc.so.6")
    assert [returner() for _ in range(3)] == [False, False, False]
    assert returner.calls == 3
