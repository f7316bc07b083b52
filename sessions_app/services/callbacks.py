"""Webhook notifications of status changes (`callback_url`), sent by a Celery task after commit
so a scheduler pass or an event handler never waits on somebody else's server."""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any

from sessions_app.dispatch import MANAGER_QUEUE, SESSION_CALLBACK_NOTIFY, task_send_on_commit

log = logging.getLogger(__name__)

CALLBACK_TIMEOUT_SECONDS = 5.0


def session_callback_schedule(
    *, session_id: str, callback_url: str, payload: dict[str, Any]
) -> None:
    """Queue one notification once the current transaction commits."""
    if not callback_url:
        return
    task_send_on_commit(SESSION_CALLBACK_NOTIFY, args=[callback_url, payload], queue=MANAGER_QUEUE)


def session_callback_post(*, callback_url: str, payload: dict[str, Any]) -> bool:
    """POST the event as JSON; failures are logged, never raised (best effort)."""
    request = urllib.request.Request(
        callback_url,
        data=json.dumps(payload).encode(),
        headers={"Content-Type": "application/json", "User-Agent": "backendai-django"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=CALLBACK_TIMEOUT_SECONDS) as response:
            ok = 200 <= response.status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        log.info("session callback failed", extra={"url": callback_url, "error": str(exc)})
        return False
    return ok
