"""Sessions made the way the API makes them, for tests that need a few PENDING ones."""

from __future__ import annotations

from sessions_app.models import Session
from sessions_app.schemas import SessionCreateRequest
from sessions_app.services.enqueue import session_enqueue
from tests.helpers.credentials import Credentials


def enqueue(creds: Credentials, name: str) -> Session:
    """A PENDING `python` session named `name`, owned by `creds` (enqueue-only)."""
    return session_enqueue(
        requester=creds.keypair,
        request=SessionCreateRequest.model_validate(
            {"image": "python", "name": name, "enqueueOnly": True}
        ),
    ).session


def status_of(name: str) -> str:
    """The status of the newest session named `name` ("None" when there is none)."""
    return str(
        Session.objects.filter(name=name)
        .order_by("-created_at")
        .values_list("status", flat=True)
        .first()
    )
