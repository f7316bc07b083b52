"""Webhook notifications of status changes (`callback_url`), sent by a Celery task after commit
so a scheduler pass or an event handler never waits on somebody else's server.

Callback URLs are user input the manager requests from inside the network, so they go through
backendai_site.common.outbound: allowed schemes and hosts (BAI_CALLBACKS_*), no loopback,
link-local or private address unless allowed, one resolution pinned for the connection, a short
timeout and no redirects.
"""

from __future__ import annotations

import http.client
import logging
from typing import Any

from backendai_site.common.outbound import (
    OutboundPolicy,
    OutboundRefused,
    outbound_post_json,
    outbound_target_resolve,
    outbound_url_check,
)
from backendai_site.config import get_config
from sessions_app.dispatch import MANAGER_QUEUE, SESSION_CALLBACK_NOTIFY, task_send_on_commit
from sessions_app.errors import CallbackURLNotAllowed

log = logging.getLogger(__name__)


def callback_policy() -> OutboundPolicy:
    config = get_config().callbacks
    return OutboundPolicy(
        schemes=frozenset(s.lower() for s in config.allowed_schemes),
        hosts=tuple(config.allowed_hosts),
        allow_private=config.allow_private_addresses,
        timeout_seconds=config.timeout_seconds,
    )


def callback_url_check(callback_url: str) -> None:
    """Refuse a callback URL that the policy would never let the manager request."""
    try:
        outbound_url_check(callback_url, callback_policy())
    except OutboundRefused as exc:
        raise CallbackURLNotAllowed(
            f"callback_url is not allowed: {exc}", data={"callback_url": str(exc)}
        ) from None


def session_callback_schedule(
    *, session_id: str, callback_url: str, payload: dict[str, Any]
) -> None:
    """Queue one notification once the current transaction commits."""
    if not callback_url:
        return
    task_send_on_commit(SESSION_CALLBACK_NOTIFY, args=[callback_url, payload], queue=MANAGER_QUEUE)


def session_callback_post(*, callback_url: str, payload: dict[str, Any]) -> bool:
    """POST the event as JSON; failures and refusals are logged, never raised (best effort)."""
    policy = callback_policy()
    try:
        target = outbound_target_resolve(callback_url, policy)
        status = outbound_post_json(target, payload, timeout=policy.timeout_seconds)
    except OutboundRefused as exc:
        log.warning("session callback refused", extra={"url": callback_url, "error": str(exc)})
        return False
    except (OSError, http.client.HTTPException) as exc:
        log.info("session callback failed", extra={"url": callback_url, "error": str(exc)})
        return False
    if not 200 <= status < 300:
        log.info("session callback answered", extra={"url": callback_url, "status": status})
    return 200 <= status < 300
