"""steps/startup.py: the libraries a run loads are left out of later garbage collections,
and what runs make afterwards is collected as before."""

from __future__ import annotations

import gc
import weakref

from steps import startup


class Node:
    """An object that can hold itself: a reference cycle only the collector frees."""

    link: object = None


def test_what_loads_inside_is_frozen_and_later_cycles_are_still_collected():
    gc.unfreeze()
    try:
        with startup.uncollected():
            assert not gc.isenabled()
            loaded = [Node() for _ in range(1000)]
        assert gc.isenabled()
        assert gc.get_freeze_count() >= len(loaded)
        made_later = Node()
        made_later.link = made_later
        gone = weakref.ref(made_later)
        del made_later
        gc.collect()
        assert gone() is None
    finally:
        gc.unfreeze()


def test_the_collector_stays_off_when_the_caller_had_turned_it_off():
    gc.disable()
    try:
        with startup.uncollected():
            pass
        assert not gc.isenabled()
    finally:
        gc.enable()
        gc.unfreeze()
