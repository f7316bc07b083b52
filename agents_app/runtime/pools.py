"""Thread-safe pools of host ports and CPU ids, keyed by the kernel that holds them."""

from __future__ import annotations

import logging
import socket
import threading
from collections.abc import Iterable

from .errors import PoolExhausted

log = logging.getLogger(__name__)


def _port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((host, port))
        except OSError:
            return False
    return True


class PortPool:
    """Host ports in `[start, end]`; a port is handed out only if nothing else has it bound."""

    def __init__(self, start: int, end: int, *, bind_host: str = "127.0.0.1") -> None:
        if not 0 < start <= end < 65536:
            raise ValueError(f"invalid port range {start}-{end}")
        self.start = start
        self.end = end
        self.bind_host = bind_host
        self._lock = threading.Lock()
        self._owner: dict[int, str] = {}
        self._next = start

    def allocate(self, owner: str, count: int) -> list[int]:
        with self._lock:
            picked: list[int] = []
            size = self.end - self.start + 1
            for step in range(size):
                if len(picked) == count:
                    break
                port = self.start + (self._next - self.start + step) % size
                if port in self._owner or not _port_is_free(self.bind_host, port):
                    continue
                picked.append(port)
            if len(picked) < count:
                raise PoolExhausted(f"need {count} ports, {len(picked)} free in pool")
            for port in picked:
                self._owner[port] = owner
            self._next = picked[-1] + 1 if picked else self._next
            if self._next > self.end:
                self._next = self.start
            return picked

    def reserve(self, owner: str, ports: Iterable[int]) -> None:
        """Mark ports as held by `owner` (adoption); ports outside the range are ignored."""
        with self._lock:
            for port in ports:
                if self.start <= port <= self.end:
                    self._owner[port] = owner

    def release(self, owner: str) -> list[int]:
        with self._lock:
            freed = [port for port, holder in self._owner.items() if holder == owner]
            for port in freed:
                del self._owner[port]
            return freed

    def held_by(self, owner: str) -> list[int]:
        with self._lock:
            return sorted(port for port, holder in self._owner.items() if holder == owner)

    def used(self) -> dict[int, str]:
        with self._lock:
            return dict(self._owner)


class CpuPool:
    """Pinned CPU ids out of the agent's declared set, least-loaded first.

    Each CPU is given to at most one kernel (`exclusive=True`, the default); with
    `exclusive=False` CPUs may be shared and the least used ones are picked.
    """

    def __init__(self, cpu_ids: Iterable[int], *, exclusive: bool = True) -> None:
        self.cpu_ids = sorted(set(cpu_ids))
        if not self.cpu_ids:
            raise ValueError("a CPU pool needs at least one CPU id")
        self.exclusive = exclusive
        self._lock = threading.Lock()
        self._holders: dict[int, set[str]] = {cpu: set() for cpu in self.cpu_ids}

    def allocate(self, owner: str, count: int) -> list[int]:
        with self._lock:
            existing = sorted(cpu for cpu, owners in self._holders.items() if owner in owners)
            if existing:
                return existing
            candidates = sorted(self.cpu_ids, key=lambda cpu: (len(self._holders[cpu]), cpu))
            if self.exclusive:
                candidates = [cpu for cpu in candidates if not self._holders[cpu]]
            if count < 1 or len(candidates) < count:
                raise PoolExhausted(f"need {count} CPUs, {len(candidates)} available")
            picked = sorted(candidates[:count])
            for cpu in picked:
                self._holders[cpu].add(owner)
            return picked

    def reserve(self, owner: str, cpus: Iterable[int], *, strict: bool = True) -> list[int]:
        """Hold exactly `cpus` for `owner`; with `strict`, fail on unknown or taken CPUs."""
        with self._lock:
            wanted = sorted(set(cpus))
            for cpu in wanted:
                if cpu not in self._holders:
                    if strict:
                        raise PoolExhausted(f"CPU {cpu} is not in this agent's set")
                    continue
                others = self._holders[cpu] - {owner}
                if strict and self.exclusive and others:
                    raise PoolExhausted(f"CPU {cpu} is held by another kernel")
            held = [cpu for cpu in wanted if cpu in self._holders]
            for cpu in held:
                self._holders[cpu].add(owner)
            return held

    def release(self, owner: str) -> list[int]:
        with self._lock:
            freed = [cpu for cpu, owners in self._holders.items() if owner in owners]
            for cpu in freed:
                self._holders[cpu].discard(owner)
            return freed

    def held_by(self, owner: str) -> list[int]:
        with self._lock:
            return sorted(cpu for cpu, owners in self._holders.items() if owner in owners)

    def free_count(self) -> int:
        with self._lock:
            return sum(1 for owners in self._holders.values() if not owners)
