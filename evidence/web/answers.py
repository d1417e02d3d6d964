"""What the pages computed, kept in the app process until the store changes (#15's page latency).

An answer is kept under what was asked (the page, TIN, year, filters, as-of day) and the store's
change marker (App.change_marker: it differs after ANY commit, by this process or another one),
read before the answer's own reads. A write committed in between only makes the kept answer
newer than its marker; the next request reads a new marker and computes afresh. With no marker
(a backend that gives none) nothing is kept. Callers check permission before asking: a kept answer
is shared by every principal allowed to read it.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from typing import Any, TypeVar

T = TypeVar("T")

# A practice's missing report on 10,000 links holds tens of MB: a few answers, not every page ever asked.
KEPT_ANSWERS = 8


class Answers:
    def __init__(self, size: int = KEPT_ANSWERS) -> None:
        self._size = size
        self._lock = threading.Lock()
        self._kept: OrderedDict[tuple[Hashable, ...], Any] = OrderedDict()
        self._marker: str | None = None
        self.computed = 0  # answers worked out rather than reused (for tests and the bench)

    def get(self, marker: str | None, question: tuple[Hashable, ...], compute: Callable[[], T]) -> T:
        if marker is None:
            self.computed += 1
            return compute()
        with self._lock:
            if marker == self._marker and question in self._kept:
                self._kept.move_to_end(question)
                kept: T = self._kept[question]
                return kept
        # Computed outside the lock: two requests at once may both compute; both answers are right.
        answer = compute()
        with self._lock:
            self.computed += 1
            if marker != self._marker:  # the store changed: nothing kept before can be shown again
                self._kept.clear()
                self._marker = marker
            self._kept[question] = answer
            while len(self._kept) > self._size:
                self._kept.popitem(last=False)
        return answer
