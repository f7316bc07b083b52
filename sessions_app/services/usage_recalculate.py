"""`POST /resource/recalculate-usage`: every agent's `used` set back to what the kernels holding
resources there occupy (the admin's repair when bookkeeping drifted; the coordinator keeps it
true in normal operation, so a run that corrects anything logs each correction)."""

from __future__ import annotations

import logging
from collections import defaultdict
from dataclasses import dataclass
from decimal import Decimal

from django.db import transaction
from django.db.models import F, Value
from django.db.models.functions import Greatest

from agents_app.models import AgentResource
from backendai_site.accounts.enums import UserRole
from backendai_site.accounts.models import User
from backendai_site.manager.errors import SuperadminRequired
from sessions_app.models import Kernel

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class UsageCorrection:
    agent_id: str
    slot_name: str
    was: Decimal
    now: Decimal


def agents_usage_recalculate(*, actor: User) -> list[UsageCorrection]:
    """Recompute `AgentResource.used` from the kernels that hold resources; returns what changed.

    The capacity rows are locked first: a scheduler pass or a release that already changed them
    commits before the kernels are summed, and none can change them until this one commits."""
    if actor.role != UserRole.SUPERADMIN:
        raise SuperadminRequired("Only a superadmin may recalculate resource usage.")
    corrections: list[UsageCorrection] = []
    with transaction.atomic():
        rows = list(AgentResource.objects.select_for_update().order_by("agent_id", "slot_name"))
        held: dict[tuple[str, str], Decimal] = defaultdict(Decimal)
        kernels = Kernel.objects.filter(holds_resources=True, agent__isnull=False)
        for agent_id, slots in kernels.values_list("agent_id", "occupied_slots"):
            for slot_name, amount in (slots or {}).items():
                held[(agent_id, slot_name)] += Decimal(str(amount))
        for row in rows:
            expected = held.get((row.agent_id, row.slot_name), Decimal(0))
            if row.used != expected:
                corrections.append(
                    UsageCorrection(row.agent_id, row.slot_name, was=row.used, now=expected)
                )
                # capacity never below what is held (as the agents' registration keeps it)
                AgentResource.objects.filter(pk=row.pk).update(
                    used=expected, capacity=Greatest(F("capacity"), Value(expected))
                )
    for fix in corrections:
        log.warning(
            "agent usage corrected",
            extra={"agent_id": fix.agent_id, "slot": fix.slot_name,
                   "was": str(fix.was), "now": str(fix.now)},
        )  # fmt: skip
    return corrections
