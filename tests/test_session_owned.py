"""Memory returned (issue 25, item 5), the parts without a server: an uploaded model held for the sessions that use
it and dropped (with what was derived from it) when the last one ends; when a session counts as ended; the shared
caches forgetting a model's entries; the heap settings."""
from __future__ import annotations

import pytest

from explorer.jobs.heap import SETTINGS, freeing_tops, trim_heap, tune_heap
from explorer.jobs.session_owned import SessionOwned, SessionWatch
from explorer.jobs.shared_work import SharedWork


def test_a_value_lives_while_any_session_uses_it() -> None:
    dropped: list = []
    owned = SessionOwned(on_drop=dropped.append)
    assert owned.claim("m", "s1") is None
    a = owned.put("m", "s1", object())
    assert owned.put("m", "s2", object()) is a  # a second tab with the same file shares the first one's model
    assert owned.claim("m", "s3") is a
    assert owned.end("s1") == [] and owned.end("s3") == [] and dropped == []
    assert owned.end("s2") == ["m"] and dropped == ["m"]
    assert owned.keys() == set() and owned.claim("m", "s4") is None
    assert owned.end("never-seen") == []


def test_a_sessions_next_upload_lets_go_of_its_last() -> None:
    dropped: list = []
    owned = SessionOwned(on_drop=dropped.append)
    owned.put("a", "s1", 1)
    owned.put("a", "s2", 1)
    owned.put("b", "s1", 2)  # s1 moves on; s2 still holds a
    assert dropped == [] and owned.keys() == {"a", "b"}
    owned.put("c", "s2", 3)
    assert dropped == ["a"] and owned.keys() == {"b", "c"}
    owned.put("c", "s2", 3)  # the same upload again changes nothing
    assert dropped == ["a"]


class Clock:
    def __init__(self) -> None:
        self.t = 0.0

    def __call__(self) -> float:
        return self.t


def test_a_session_ends_once_inactive_for_the_ttl_and_a_reconnect_restarts_the_count() -> None:
    clock, active = Clock(), {"s1": True, "s2": True}
    watch = SessionWatch(clock)
    watch.seen("s1"), watch.seen("s2")
    assert watch.ended(active.get, 10) == []
    active["s1"] = active["s2"] = False
    assert watch.ended(active.get, 10) == []  # first seen inactive now
    clock.t = 9
    active["s2"] = True  # a reload within the TTL resumed it
    assert watch.ended(active.get, 10) == []
    clock.t = 10
    active["s2"] = False
    assert watch.ended(active.get, 10) == ["s1"]  # reported once, then forgotten
    assert watch.ended(active.get, 10) == [] and len(watch) == 1
    clock.t = 20
    assert watch.ended(active.get, 10) == ["s2"] and len(watch) == 0


def test_shared_work_forgets_the_keys_of_a_model() -> None:
    work = SharedWork(8)
    for key in [("upload:a:cpu", "mnist"), ("user-images:x:upload:a:cpu", "x"), ("bundled:f:1:cpu", "mnist")]:
        work.get(key, lambda p: 1)
    assert work.drop(lambda k: k[0].endswith("upload:a:cpu")) == 2
    assert work.peek(("bundled:f:1:cpu", "mnist")) == (True, 1)
    assert work.peek(("upload:a:cpu", "mnist")) == (False, None)


def test_the_heap_settings_apply_and_an_administrators_own_win(monkeypatch) -> None:
    import sys

    if not sys.platform.startswith("linux"):
        pytest.skip("glibc's mallopt")
    assert tune_heap() == [env for _, _, env in SETTINGS]
    monkeypatch.setenv("MALLOC_ARENA_MAX", "4")
    assert "MALLOC_ARENA_MAX" not in tune_heap()
    assert trim_heap()
    with freeing_tops():  # a block freed at an arena's top while the tops are given back
        block = bytearray(8 * 2**20)
        del block
