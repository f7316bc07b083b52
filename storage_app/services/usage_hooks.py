"""Who is using a folder: answered by the app that runs sessions, which storage_app never imports.

`sessions_app` registers a checker at start-up (its AppConfig.ready); purging asks it.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from uuid import UUID

MountUsersChecker = Callable[[Iterable[UUID]], dict[UUID, list[str]]]

_checkers: list[MountUsersChecker] = []


def mount_users_checker_register(checker: MountUsersChecker) -> None:
    if checker not in _checkers:
        _checkers.append(checker)


def vfolder_mount_users(vfolder_ids: Iterable[UUID]) -> dict[UUID, list[str]]:
    """Live sessions (ids as strings) mounting each of the given folders."""
    ids = list(vfolder_ids)
    found: dict[UUID, list[str]] = {}
    for checker in _checkers:
        for vfid, sessions in checker(ids).items():
            found.setdefault(vfid, []).extend(sessions)
    return found
