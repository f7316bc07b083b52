"""Agent selectors: concentrated, dispersed and round-robin over an in-memory agent pool.

The pool keeps, per architecture, the agents sorted by their free capacity as a tuple (accelerator
slots first, then cpu, then mem), so a request whose leading amount exceeds an agent's cannot fit
there and the scan starts where it could. Reserving re-sorts only the agent that changed.
"""

from __future__ import annotations

from bisect import bisect_left, insort
from collections.abc import Iterable, Mapping, Sequence

from agents_app.enums import AgentSelectionStrategy

from .types import AgentState

INTRINSIC_ORDER = ("cpu", "mem")
NO_FIT_MEMORY = 32


def slot_order(slot_names: Iterable[str]) -> tuple[str, ...]:
    """Accelerator slots (sorted), then cpu, then mem: the scarcest resources lead the sort."""
    names = set(slot_names)
    accelerators = sorted(names - set(INTRINSIC_ORDER))
    return (*accelerators, *(name for name in INTRINSIC_ORDER if name in names))


class _ArchIndex:
    __slots__ = ("by_id", "keys", "no_fit")

    def __init__(self) -> None:
        self.keys: list[tuple[int, ...]] = []  # (free per ordered slot..., agent position)
        self.by_id: list[int] = []  # agent positions sorted by agent id (round-robin)
        self.no_fit: list[tuple[tuple[str, int], ...]] = []


class AgentPool:
    """Mutable free capacity of the group's schedulable agents for the duration of one plan."""

    def __init__(self, agents: Sequence[AgentState], slot_names: Iterable[str] = ()) -> None:
        # private copies of `used`: planning never mutates the snapshot
        self.agents = [AgentState(a.id, a.architecture, a.capacity, dict(a.used)) for a in agents]
        names = set(slot_names)
        for agent in self.agents:
            names.update(agent.capacity)
        self.order = slot_order(names)
        self.position = {agent.id: pos for pos, agent in enumerate(self.agents)}
        self.indexes: dict[str, _ArchIndex] = {}
        self._max_free: dict[tuple[str, str], int] = {}
        for pos in sorted(range(len(self.agents)), key=lambda p: self.agents[p].id):
            agent = self.agents[pos]
            index = self.indexes.setdefault(agent.architecture, _ArchIndex())
            index.by_id.append(pos)
            index.keys.append(self._key(pos))
        for index in self.indexes.values():
            index.keys.sort()

    # --- bookkeeping -------------------------------------------------------------------------
    def _key(self, pos: int) -> tuple[int, ...]:
        agent = self.agents[pos]
        return (*(agent.free(slot) for slot in self.order), pos)

    def fits(self, pos: int, request: Sequence[tuple[str, int]]) -> bool:
        agent = self.agents[pos]
        capacity, used = agent.capacity, agent.used
        for slot, amount in request:  # noqa: SIM110 - the plain loop is the hot path
            if capacity.get(slot, 0) - used.get(slot, 0) < amount:
                return False
        return True

    def reserve(self, pos: int, request: Mapping[str, int], sign: int = 1) -> None:
        agent = self.agents[pos]
        index = self.indexes[agent.architecture]
        self._max_free.clear()
        old = self._key(pos)
        del index.keys[bisect_left(index.keys, old)]
        used = agent.used
        for slot, amount in request.items():
            used[slot] = used.get(slot, 0) + sign * amount
        insort(index.keys, self._key(pos))
        if sign < 0:
            index.no_fit.clear()  # capacity came back: forget what did not fit

    def release(self, pos: int, request: Mapping[str, int]) -> None:
        self.reserve(pos, request, sign=-1)

    def has_architecture(self, architecture: str) -> bool:
        return architecture in self.indexes

    def max_free(self, architecture: str, slot: str, among: Iterable[int] | None = None) -> int:
        if among is not None:
            return max((self.agents[p].free(slot) for p in among), default=0)
        key = (architecture, slot)
        if key not in self._max_free:
            index = self.indexes.get(architecture)
            positions = index.by_id if index is not None else []
            self._max_free[key] = max((self.agents[p].free(slot) for p in positions), default=0)
        return self._max_free[key]

    # --- selection ---------------------------------------------------------------------------
    def select(
        self,
        *,
        request: Mapping[str, int],
        architecture: str,
        strategy: str,
        roundrobin_start: dict[str, int],
        designated: Sequence[int] | None = None,
    ) -> int | None:
        """The position of the agent to place `request` on, or None when none fits."""
        index = self.indexes.get(architecture)
        if index is None:
            return None
        items = tuple(sorted((slot, amount) for slot, amount in request.items() if amount > 0))
        if designated is not None:
            return self._select_among(items, designated, strategy)
        if self._known_no_fit(index, items):
            return None
        match strategy:
            case AgentSelectionStrategy.ROUNDROBIN:
                chosen = self._select_roundrobin(index, items, architecture, roundrobin_start)
            case AgentSelectionStrategy.CONCENTRATED:
                chosen = self._select_sorted(index, items, busiest_first=True)
            case _:
                chosen = self._select_sorted(index, items, busiest_first=False)
        if chosen is None:
            index.no_fit.append(items)
            if len(index.no_fit) > NO_FIT_MEMORY:
                del index.no_fit[0]
        return chosen

    @staticmethod
    def _known_no_fit(index: _ArchIndex, items: tuple[tuple[str, int], ...]) -> bool:
        """A request at least as large (slot by slot) as one that fitted nowhere fits nowhere."""
        if not index.no_fit:
            return False
        wanted = dict(items)
        for failed in index.no_fit:
            if all(wanted.get(slot, 0) >= amount for slot, amount in failed):
                return True
        return False

    def _select_sorted(
        self, index: _ArchIndex, items: tuple[tuple[str, int], ...], *, busiest_first: bool
    ) -> int | None:
        lead = self.order[0] if self.order else None
        need = dict(items).get(lead, 0) if lead is not None else 0
        keys = index.keys
        start = bisect_left(keys, (need,))
        if busiest_first:
            for i in range(start, len(keys)):
                pos = keys[i][-1]
                if self.fits(pos, items):
                    return pos
        else:
            for i in range(len(keys) - 1, start - 1, -1):
                pos = keys[i][-1]
                if self.fits(pos, items):
                    return pos
        return None

    def _select_roundrobin(
        self,
        index: _ArchIndex,
        items: tuple[tuple[str, int], ...],
        architecture: str,
        roundrobin_start: dict[str, int],
    ) -> int | None:
        ring = index.by_id
        start = roundrobin_start.get(architecture, 0) % len(ring)
        for step in range(len(ring)):
            i = (start + step) % len(ring)
            if self.fits(ring[i], items):
                roundrobin_start[architecture] = (i + 1) % len(ring)
                return ring[i]
        return None

    def _select_among(
        self, items: tuple[tuple[str, int], ...], candidates: Sequence[int], strategy: str
    ) -> int | None:
        fitting = [pos for pos in candidates if self.fits(pos, items)]
        if not fitting:
            return None
        match strategy:
            case AgentSelectionStrategy.CONCENTRATED:
                return min(fitting, key=self._key)
            case AgentSelectionStrategy.DISPERSED:
                return max(fitting, key=self._key)
            case _:
                return fitting[0]

    def designated_positions(self, agent_ids: Iterable[str], architecture: str) -> list[int]:
        return [
            self.position[agent_id]
            for agent_id in agent_ids
            if agent_id in self.position
            and self.agents[self.position[agent_id]].architecture == architecture
        ]
