"""`AuditLogMiddleware`: a request id for every request, an audit entry for every mutating one."""

from __future__ import annotations

import logging
from collections.abc import Callable

from django.http import HttpRequest
from django.http.response import HttpResponseBase

from backendai_site.common.api.exception_handler import DATABASE_UNAVAILABLE_ATTR

from .capture import (
    MUTATING_METHODS,
    REQUEST_ID_ATTR,
    REQUEST_ID_HEADER,
    audit_event_from_exchange,
    body_keep,
    request_id_choose,
)
from .services import audit_entry_record

log = logging.getLogger(__name__)


class AuditLogMiddleware:
    """Sets `request.request_id` (a sane `X-Request-ID` from the caller, else a uuid4) and
    answers it in `X-Request-ID`. A POST/PUT/PATCH/DELETE is recorded once its response is
    computed, so after (and outside) the view's transaction; recording never changes the
    response: any failure is logged. Listed after `AuthenticationMiddleware`."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponseBase]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request_id = request_id_choose(request.META.get("HTTP_X_REQUEST_ID"))
        setattr(request, REQUEST_ID_ATTR, request_id)
        audited = request.method in MUTATING_METHODS
        body: bytes | None = None
        user_before: object = None
        if audited:
            try:
                body = body_keep(request)
                # a logout ends the session: the actor is whoever was logged in before
                user_before = getattr(request, "user", None)
                if user_before is not None and not user_before.is_authenticated:
                    user_before = None
            except Exception:
                log.exception("audit: request not readable", extra={"request_id": request_id})
        response = self.get_response(request)
        response[REQUEST_ID_HEADER] = request_id
        if audited:
            self._record(request, response, request_id, body, user_before)
        return response

    def _record(
        self,
        request: HttpRequest,
        response: HttpResponseBase,
        request_id: str,
        body: bytes | None,
        user_before: object,
    ) -> None:
        context = {"request_id": request_id, "path": request.path, "status": response.status_code}
        if getattr(response, DATABASE_UNAVAILABLE_ATTR, False):
            log.warning("audit entry not recorded: database unavailable", extra=context)
            return
        try:
            event = audit_event_from_exchange(
                request=request,
                response=response,
                request_id=request_id,
                body=body,
                user_before=user_before,
            )
            if event is not None:
                audit_entry_record(event=event)
        except Exception:  # the answer stands whatever happened to its record
            log.exception("audit entry not recorded", extra=context)
