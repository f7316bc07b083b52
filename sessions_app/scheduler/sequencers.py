"""Sequencers: the order in which a pass considers pending sessions.

- FIFO: priority desc, then created_at asc (Backend.AI's order: priority first).
- LIFO: priority desc, then created_at desc.
- DRF: lowest dominant share per user first; shares grow as the pass places that user's sessions.
- FAIR_SHARE: decayed ledger usage against share weights, domain -> project -> user
  (sequencers_fair_share.py).

A sequencer is an iterator with feedback (`sequencers_base.Sequencer`): `next_session()` gives
the next session to try and `placed(session, slots)` tells it what was placed (DRF and fair
share care).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping, Sequence
from datetime import datetime
from fractions import Fraction
from uuid import UUID

from agents_app.enums import SchedulerKind

from .sequencers_base import Sequencer, fifo_key, lifo_key
from .sequencers_fair_share import FairShareSequencer
from .types import FairShareInputs, FairShareLeaf, PendingSession, Slots, slots_add


class SortedSequencer(Sequencer):
    def __init__(self, sessions: Sequence[PendingSession], *, lifo: bool = False) -> None:
        self._queue = deque(sorted(sessions, key=lifo_key if lifo else fifo_key))

    def next_session(self) -> PendingSession | None:
        return self._queue.popleft() if self._queue else None


def dominant_share(occupied: Mapping[str, int], capacity: Mapping[str, int]) -> Fraction:
    """max over slots of occupied / capacity (slots the group has none of are ignored)."""
    share = Fraction(0)
    for slot, amount in occupied.items():
        total = capacity.get(slot, 0)
        if total > 0 and amount > 0:
            share = max(share, Fraction(amount, total))
    return share


class DRFSequencer(Sequencer):
    """A heap of users keyed by (dominant share, their next session's FIFO key)."""

    def __init__(
        self,
        sessions: Sequence[PendingSession],
        *,
        capacity: Mapping[str, int],
        user_occupancy: Mapping[UUID, Slots],
    ) -> None:
        self._capacity = capacity
        self._occupied: dict[UUID, Slots] = {}
        queues: dict[UUID, deque[PendingSession]] = {}
        for session in sorted(sessions, key=fifo_key):
            queues.setdefault(session.user_id, deque()).append(session)
        self._queues = queues
        self._shares: dict[UUID, Fraction] = {}
        self._heap: list[tuple[Fraction, tuple[int, float, str], UUID]] = []
        for user_id, queue in queues.items():
            self._occupied[user_id] = dict(user_occupancy.get(user_id, {}))
            share = dominant_share(self._occupied[user_id], capacity)
            self._shares[user_id] = share
            self._heap.append((share, fifo_key(queue[0]), user_id))
        heapq.heapify(self._heap)
        self._current: UUID | None = None

    def _push_back(self) -> None:
        user_id = self._current
        if user_id is None:
            return
        self._current = None
        queue = self._queues[user_id]
        if queue:
            heapq.heappush(self._heap, (self._shares[user_id], fifo_key(queue[0]), user_id))

    def next_session(self) -> PendingSession | None:
        self._push_back()
        if not self._heap:
            return None
        _, _, user_id = heapq.heappop(self._heap)
        self._current = user_id
        return self._queues[user_id].popleft()

    def placed(self, session: PendingSession, slots: Mapping[str, int]) -> None:
        occupied = self._occupied.setdefault(session.user_id, {})
        slots_add(occupied, slots)
        self._shares[session.user_id] = dominant_share(occupied, self._capacity)


def make_sequencer(
    kind: str,
    sessions: Sequence[PendingSession],
    *,
    capacity: Mapping[str, int],
    user_occupancy: Mapping[UUID, Slots],
    now: datetime,
    fair_share: FairShareInputs | None = None,
    leaf_occupancy: Mapping[FairShareLeaf, Slots] | None = None,
) -> Sequencer:
    match kind:
        case SchedulerKind.LIFO:
            return SortedSequencer(sessions, lifo=True)
        case SchedulerKind.DRF:
            return DRFSequencer(sessions, capacity=capacity, user_occupancy=user_occupancy)
        case SchedulerKind.FAIR_SHARE:
            return FairShareSequencer(
                sessions,
                capacity=capacity,
                inputs=fair_share or FairShareInputs(),
                leaf_occupancy=leaf_occupancy or {},
                now=now,
            )
        case _:
            return SortedSequencer(sessions)
