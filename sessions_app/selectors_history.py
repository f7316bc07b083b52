"""Scheduling history (`POST /scheduling-history/sessions/search`): the sessions' recorded status
moves, read as the reference's history records and scoped by the one authorization rule.

One record per `SessionStatusHistory` row: `to_status` is the row's status, `from_status` the
session's previous row, `phase` names the step the move belongs to, and `result` says whether
the move was a setback (FAILURE: an ERROR, a return to PENDING, a cancellation nobody asked for)
or progress (SUCCESS). A failure's `error_code` is the recorded reason.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from enum import StrEnum
from typing import Any

from django.db.models import Case, CharField, F, OuterRef, Q, QuerySet, Subquery, Value, When
from pydantic import BaseModel, ConfigDict, Field

from backendai_site.common.api.query_filters import (
    StringFilter,
    UUIDFilter,
    string_filter_q,
    uuid_filter_q,
)
from backendai_site.common.validation import Text64

from .enums import SessionAction, SessionStatus
from .models import SessionStatusHistory
from .selectors import SessionActor, sessions_for

_S = SessionStatus
PHASE_BY_STATUS: dict[SessionStatus, str] = {
    _S.PENDING: "enqueue",
    _S.SCHEDULED: "schedule",
    _S.PREPARING: "prepare",
    _S.PULLING: "prepare",
    _S.PREPARED: "prepare",
    _S.CREATING: "create",
    _S.RUNNING: "start",
    _S.RUNNING_DEGRADED: "degrade",
    _S.RESTARTING: "restart",
    _S.TERMINATING: "terminate",
    _S.TERMINATED: "terminate",
    _S.ERROR: "error",
    _S.CANCELLED: "cancel",
}
REQUEUE_PHASE = "requeue"
REQUESTED_CANCEL_REASONS = ("user-requested", "admin-requested", "admin-forced")


class HistoryResult(StrEnum):
    SUCCESS = "SUCCESS"
    FAILURE = "FAILURE"
    STALE = "STALE"


class OrderField(StrEnum):
    CREATED_AT = "created_at"
    UPDATED_AT = "updated_at"


class OrderDirection(StrEnum):
    ASC = "asc"
    DESC = "desc"


class SessionHistoryFilter(BaseModel):
    model_config = ConfigDict(extra="forbid")

    session_id: UUIDFilter | None = None
    phase: StringFilter | None = None
    from_status: list[Text64] | None = Field(default=None, max_length=50)
    to_status: list[Text64] | None = Field(default=None, max_length=50)
    result: list[HistoryResult] | None = Field(default=None, max_length=3)
    error_code: StringFilter | None = None
    message: StringFilter | None = None


class SessionHistoryOrder(BaseModel):
    model_config = ConfigDict(extra="forbid")

    field: OrderField
    direction: OrderDirection = OrderDirection.DESC


class SessionHistorySearch(BaseModel):
    model_config = ConfigDict(extra="forbid")

    filter: SessionHistoryFilter | None = None
    order: list[SessionHistoryOrder] | None = Field(default=None, max_length=4)
    limit: int = Field(default=50, ge=1, le=1000)
    offset: int = Field(default=0, ge=0)


@dataclass(frozen=True, slots=True)
class HistoryPage:
    items: list[dict[str, Any]]
    total: int
    offset: int
    limit: int


def record_id(row_pk: int) -> uuid.UUID:
    """The record's id: the history row's key as a UUID (stable, and unique across rows)."""
    return uuid.UUID(int=row_pk)


def _annotated(rows: QuerySet[SessionStatusHistory]) -> QuerySet[SessionStatusHistory]:
    previous = SessionStatusHistory.objects.filter(session_id=OuterRef("session_id")).filter(
        Q(at__lt=OuterRef("at")) | Q(at=OuterRef("at"), pk__lt=OuterRef("pk"))
    )
    rows = rows.annotate(from_status=Subquery(previous.order_by("-at", "-pk").values("status")[:1]))
    requeued = Q(status=_S.PENDING, from_status__isnull=False)
    failed = (
        Q(status=_S.ERROR)
        | requeued
        | (Q(status=_S.CANCELLED) & ~Q(reason__in=REQUESTED_CANCEL_REASONS))
    )
    return rows.annotate(
        phase=Case(
            When(requeued, then=Value(REQUEUE_PHASE)),
            *(When(status=status, then=Value(name)) for status, name in PHASE_BY_STATUS.items()),
            default=Value("status"),
            output_field=CharField(),
        ),
        result=Case(
            When(failed, then=Value(HistoryResult.FAILURE.value)),
            default=Value(HistoryResult.SUCCESS.value),
            output_field=CharField(),
        ),
        error_code=Case(When(failed, then=F("reason")), default=None, output_field=CharField()),
    )


def _filtered(
    rows: QuerySet[SessionStatusHistory], spec: SessionHistoryFilter | None
) -> QuerySet[SessionStatusHistory]:
    if spec is None:
        return rows
    rows = rows.filter(
        uuid_filter_q("session_id", spec.session_id),
        string_filter_q("phase", spec.phase),
        string_filter_q("error_code", spec.error_code),
        string_filter_q("reason", spec.message),
    )
    if spec.from_status is not None:
        rows = rows.filter(Q(from_status__in=[s.upper() for s in spec.from_status]))
    if spec.to_status is not None:
        rows = rows.filter(status__in=[s.upper() for s in spec.to_status])
    if spec.result is not None:
        rows = rows.filter(Q(result__in=[r.value for r in spec.result]))
    return rows


def _record(row: Any) -> dict[str, Any]:
    at: datetime = row.at
    return {
        "id": str(record_id(row.pk)),
        "session_id": str(row.session_id),
        "phase": row.phase,
        "from_status": row.from_status,
        "to_status": row.status,
        "result": row.result,
        "error_code": row.error_code or None,
        "message": row.reason or None,
        "sub_steps": [],
        "attempts": 1,
        "created_at": at.isoformat(),
        "updated_at": at.isoformat(),
    }


def session_history_search(*, actor: SessionActor, search: SessionHistorySearch) -> HistoryPage:
    """One page of the status moves of the sessions `actor` may view (two queries)."""
    visible = sessions_for(actor, SessionAction.VIEW).values("pk")
    rows = _filtered(
        _annotated(SessionStatusHistory.objects.filter(session_id__in=visible)), search.filter
    )
    # created_at and updated_at are both the moment of the move: either orders by it
    ordering: list[str] = []
    for spec in search.order or [SessionHistoryOrder(field=OrderField.CREATED_AT)]:
        prefix = "-" if spec.direction == OrderDirection.DESC else ""
        ordering += [f"{prefix}at", f"{prefix}pk"]
    total = rows.count()
    page = rows.order_by(*ordering)[search.offset : search.offset + search.limit]
    return HistoryPage(
        items=[_record(row) for row in page],
        total=total,
        offset=search.offset,
        limit=search.limit,
    )
