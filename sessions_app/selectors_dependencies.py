"""The dependency graph of a session, in the shape `backend.ai session show-graph` parses.

The client (26.9.6, `cli/session/lifecycle.py`) reads each node's `session_name`, `session_id`,
`status` (it splits on "KernelStatus." and takes the rest), `status_changed` ("None" or
"YYYY-MM-DD HH:MM:SS" followed by an optional ".micro" part) and `depends_on` (child nodes).
docs/compat/session-extras.md has the details.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from .enums import SessionAction
from .models import Session, SessionDependency
from .selectors import SessionActor, sessions_for

# The client takes the text after this prefix as the status it shows.
STATUS_PREFIX = "KernelStatus."


def _status_changed_text(value: datetime | None) -> str:
    # Always with microseconds: the client cuts at the first "." and parses the rest with
    # "%Y-%m-%d %H:%M:%S", which a bare "+00:00" suffix would break.
    return "None" if value is None else value.strftime("%Y-%m-%d %H:%M:%S.%f%z")


def _node(session: Session) -> dict[str, Any]:
    return {
        "session_id": str(session.pk),
        "session_name": session.name,
        "status": f"{STATUS_PREFIX}{session.status}",
        "status_changed": _status_changed_text(session.status_changed),
        "result": session.result,
        "depends_on": [],
    }


def session_dependency_graph(*, actor: SessionActor, session: Session) -> dict[str, Any]:
    """The root node of `session` with what it depends on, transitively; only sessions the
    actor may view appear. A dependency shared by two sessions appears under both (the client
    numbers repeated names). One query per level of the graph."""
    visible = sessions_for(actor, SessionAction.VIEW)
    root = _node(session)
    nodes: dict[Any, dict[str, Any]] = {session.pk: root}
    frontier = [session.pk]
    while frontier:
        edges = (
            SessionDependency.objects.filter(session_id__in=frontier, depends_on__in=visible)
            .select_related("depends_on")
            .order_by("depends_on__created_at", "depends_on_id")
        )
        frontier = []
        for edge in edges:
            dep = edge.depends_on
            parent = nodes[edge.session_id]
            if dep.pk not in nodes:
                nodes[dep.pk] = _node(dep)
                frontier.append(dep.pk)
            elif _reaches(nodes[dep.pk], parent):
                continue  # dependencies are made acyclic; never loop on bad rows
            parent["depends_on"].append(nodes[dep.pk])
    return root


def _reaches(start: dict[str, Any], target: dict[str, Any]) -> bool:
    stack, seen = [start], set()
    while stack:
        node = stack.pop()
        if node is target:
            return True
        if id(node) not in seen:
            seen.add(id(node))
            stack.extend(node["depends_on"])
    return False
