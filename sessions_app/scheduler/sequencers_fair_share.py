"""The fair-share sequencer (Slurm's Fair Tree idea over BEP-1026's levels; design note 0008).

Usage of a user in a project in a domain ("leaf") is, in seconds of the whole resource group:
the ledger's decayed slot-seconds of the group, each slot divided by the group's capacity of that
slot and summed over slots, plus what the leaf holds in the group now (running sessions, and
sessions placed earlier in this pass) times `occupancy_seconds`: the usage a placed session is
expected to add before the ledger records it. That term is the feedback: one pass cannot give
every free slot to the same user.

At each level (domains; projects inside a domain; users inside a project) a node's ratio is
`(its usage / its siblings' usage) / (its weight / its siblings' weight)`; 0 when the siblings
have no usage. Users with pending sessions are ranked by the tuple (domain ratio, project ratio,
user ratio), lower first, equal tuples sharing a rank; the position `p = rank / ranks` lies in
[0, 1). A session's key is `p - waited / aging_seconds`, ties broken by the FIFO key: a session
goes ahead of every session that has waited `aging_seconds` less than it, whatever their usage
(the aging bound: nobody starves). The factor shown is `1 - p` (1 for the first-ranked user).

After each placement the placed leaf's occupancy grows and the users are ranked again
(O(leaves log leaves) per placement).
"""

from __future__ import annotations

import heapq
from collections import deque
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any
from uuid import UUID

from .sequencers_base import Sequencer, fifo_key
from .types import SCALE, FairShareInputs, FairShareLeaf, PendingSession, Slots, slots_add

FifoKey = tuple[int, float, str]


def _rounded(value: float) -> float:
    return float(f"{value:.6g}")


@dataclass(slots=True)
class _Node:
    usage: float = 0.0
    weight: float = 1.0
    ratio: float = 0.0
    children: dict[Any, _Node] = field(default_factory=dict)


def _ratios(siblings: Mapping[Any, _Node]) -> None:
    usage = sum(node.usage for node in siblings.values())
    weight = sum(node.weight for node in siblings.values())
    for node in siblings.values():
        if usage <= 0 or weight <= 0:
            node.ratio = 0.0
        else:
            node.ratio = (node.usage / usage) / (node.weight / weight)


class FairShareSequencer(Sequencer):
    def __init__(
        self,
        sessions: Sequence[PendingSession],
        *,
        capacity: Mapping[str, int],
        inputs: FairShareInputs,
        leaf_occupancy: Mapping[FairShareLeaf, Slots],
        now: datetime,
    ) -> None:
        self._inputs = inputs
        self._now = now
        self._per_unit = {  # group-seconds per unit-second of each slot
            slot: SCALE / total for slot, total in capacity.items() if total > 0
        }
        self._ledger: dict[FairShareLeaf, float] = {
            leaf: self._normalised(slots) for leaf, slots in inputs.usage.items()
        }
        self._occupied: dict[FairShareLeaf, Slots] = {
            leaf: dict(slots) for leaf, slots in leaf_occupancy.items()
        }
        queues: dict[FairShareLeaf, deque[PendingSession]] = {}
        for session in sorted(sessions, key=fifo_key):
            queues.setdefault(session.fair_share_leaf, deque()).append(session)
        self._queues = queues
        self._position: dict[FairShareLeaf, float] = {}
        self._ranks = 0
        self._tree: dict[str, _Node] = {}
        self._heap: list[tuple[float, FifoKey, FairShareLeaf]] = []
        self._current: FairShareLeaf | None = None
        self._explained: dict[UUID, dict[str, Any]] = {}
        self._rank()

    # --- usage and ranks ---------------------------------------------------------------------

    def _normalised(self, slot_seconds: Mapping[str, float]) -> float:
        return sum(
            amount * self._per_unit[slot]
            for slot, amount in slot_seconds.items()
            if slot in self._per_unit
        )

    def _leaf_usage(self, leaf: FairShareLeaf) -> float:
        held = self._occupied.get(leaf)
        usage = self._ledger.get(leaf, 0.0)
        if held:
            seconds = self._inputs.occupancy_seconds / SCALE
            usage += self._normalised({slot: amount * seconds for slot, amount in held.items()})
        return max(usage, 0.0)  # corrections may take more than the window still holds

    def _rank(self) -> None:
        weights = self._inputs
        tree: dict[str, _Node] = {}
        for leaf in set(self._ledger) | set(self._occupied) | set(self._queues):
            domain_name, project_id, user_id = leaf
            domain = tree.setdefault(
                domain_name, _Node(weight=weights.domain_weights.get(domain_name, 1.0))
            )
            project = domain.children.setdefault(
                project_id, _Node(weight=weights.project_weights.get(project_id, 1.0))
            )
            user = project.children.setdefault(
                user_id, _Node(weight=weights.user_weights.get(user_id, 1.0))
            )
            usage = self._leaf_usage(leaf)
            user.usage += usage
            project.usage += usage
            domain.usage += usage
        _ratios(tree)
        for domain in tree.values():
            _ratios(domain.children)
            for project in domain.children.values():
                _ratios(project.children)
        self._tree = tree
        tuples = {leaf: self._level_ratios(leaf) for leaf, queue in self._queues.items() if queue}
        distinct = sorted(set(tuples.values()))
        index = {ratios: i for i, ratios in enumerate(distinct)}
        self._ranks = len(distinct)
        self._position = {leaf: index[ratios] / len(distinct) for leaf, ratios in tuples.items()}
        self._heap = [
            (self._key(queue[0]), fifo_key(queue[0]), leaf)
            for leaf, queue in self._queues.items()
            if queue and leaf != self._current
        ]
        heapq.heapify(self._heap)

    def _nodes(self, leaf: FairShareLeaf) -> tuple[_Node, _Node, _Node]:
        domain = self._tree[leaf[0]]
        project = domain.children[leaf[1]]
        return domain, project, project.children[leaf[2]]

    def _level_ratios(self, leaf: FairShareLeaf) -> tuple[float, float, float]:
        domain, project, user = self._nodes(leaf)
        return (_rounded(domain.ratio), _rounded(project.ratio), _rounded(user.ratio))

    def _waited(self, session: PendingSession) -> float:
        return max((self._now - session.created_at).total_seconds(), 0.0)

    def _key(self, session: PendingSession) -> float:
        position = self._position[session.fair_share_leaf]
        return position - self._waited(session) / self._inputs.aging_seconds

    # --- the Sequencer protocol --------------------------------------------------------------

    def _push_back(self) -> None:
        leaf = self._current
        if leaf is None:
            return
        self._current = None
        queue = self._queues[leaf]
        if queue:
            heapq.heappush(self._heap, (self._key(queue[0]), fifo_key(queue[0]), leaf))

    def next_session(self) -> PendingSession | None:
        self._push_back()
        if not self._heap:
            return None
        _, _, leaf = heapq.heappop(self._heap)
        self._current = leaf
        session = self._queues[leaf].popleft()
        self._explained[session.id] = self._explain(session)
        return session

    def placed(self, session: PendingSession, slots: Mapping[str, int]) -> None:
        slots_add(self._occupied.setdefault(session.fair_share_leaf, {}), slots)
        self._rank()  # the current leaf is pushed back by the next `next_session`

    def explain(self, session_id: UUID) -> dict[str, Any] | None:
        return self._explained.get(session_id)

    def _explain(self, session: PendingSession) -> dict[str, Any]:
        leaf = session.fair_share_leaf
        domain, project, user = self._nodes(leaf)
        position = self._position[leaf]

        def level(name: str, ident: str, node: _Node) -> dict[str, Any]:
            return {
                "level": name,
                "id": ident,
                "usage": _rounded(node.usage),
                "weight": _rounded(node.weight),
                "ratio": _rounded(node.ratio),
            }

        return {
            "factor": _rounded(1.0 - position),
            "ratio": _rounded(user.ratio),
            "usage": _rounded(user.usage),
            "weight": _rounded(user.weight),
            "rank": round(position * self._ranks) + 1,
            "ranks": self._ranks,
            "levels": [
                level("domain", leaf[0], domain),
                level("project", str(leaf[1]), project),
                level("user", str(leaf[2]), user),
            ],
            "waited_seconds": round(self._waited(session)),
            "aging_seconds": self._inputs.aging_seconds,
            "key": _rounded(self._key(session)),
            "usage_unit": "group-seconds",
        }
