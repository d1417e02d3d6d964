"""The collector pause (evidence.support.collection): nested and threaded pauses never leave the
collector off, nor switch it on for a caller that had switched it off."""

from __future__ import annotations

import gc
import threading

from evidence.support.collection import BATCH_THRESHOLDS, collect_in_batches, collection_paused


def test_nested_pauses_switch_the_collector_back_on_after_the_last() -> None:
    assert gc.isenabled()
    with collection_paused():
        assert not gc.isenabled()
        with collection_paused():
            assert not gc.isenabled()
        assert not gc.isenabled()  # the outer pause still runs
    assert gc.isenabled()


def test_a_pause_that_fails_still_ends() -> None:
    try:
        with collection_paused():
            raise ValueError("boom")
    except ValueError:
        pass
    assert gc.isenabled()


def test_overlapping_pauses_in_threads_end_with_the_collector_on() -> None:
    """Thread A pauses, B pauses, A ends, B ends: with a saved-and-restored flag instead of a count,
    B would restore 'off' and the collector would stay off for good."""
    a_in, b_in, a_out = threading.Event(), threading.Event(), threading.Event()
    seen: list[bool] = []

    def first() -> None:
        with collection_paused():
            a_in.set()
            b_in.wait(5)
        a_out.set()

    def second() -> None:
        a_in.wait(5)
        with collection_paused():
            b_in.set()
            a_out.wait(5)
            seen.append(gc.isenabled())  # A has ended, B still builds: still off

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(10)
    assert seen == [False]
    assert gc.isenabled()


def test_a_collector_switched_off_before_stays_off() -> None:
    gc.disable()
    try:
        with collection_paused():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()


def test_batches_set_the_thresholds() -> None:
    before = gc.get_threshold()
    try:
        collect_in_batches()
        assert gc.get_threshold() == BATCH_THRESHOLDS
    finally:
        gc.set_threshold(*before)
