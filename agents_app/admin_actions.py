"""The buttons on an agent's admin page: drain, undrain and rescan its images.

The same services as the list's bulk actions and the API (`agents_set_schedulable`,
`images_rescan_from_agents`); who may press them is the admin's role rule
(`has_change_permission`: superadmins only, see accounts/permissions.py). Each is a POSTed
confirmation, so the audit log records it.
"""

from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.urls import reverse
from unfold.decorators import action
from unfold.enums import ActionVariant
from unfold.forms import BaseDialogForm

from backendai_site.console.actions import action_done, confirm_dialog

from .services.agents import agents_set_schedulable
from .services.images import images_rescan_from_agents


def _change_url(object_id: Any) -> str:
    return reverse("admin:agents_app_agent_change", args=(object_id,))


class AgentActionsMixin:
    """Detail actions of `AgentAdmin` (listed in its `actions_detail`)."""

    @action(
        description="Drain",
        icon="block",
        variant=ActionVariant.WARNING,
        permissions=["change"],
        dialog=confirm_dialog(
            "Drain this agent?",
            "No new kernels are placed on it; the sessions it runs carry on until they end.",
            "Drain",
        ),
    )
    def drain_agent(
        self, request: HttpRequest, form: BaseDialogForm, object_id: str
    ) -> HttpResponse:
        changed = agents_set_schedulable(agent_ids=[object_id], schedulable=False)
        messages.success(request, "Drained." if changed else "The agent was already drained.")
        return action_done(request, _change_url(object_id))

    @action(
        description="Undrain",
        icon="play_circle",
        permissions=["change"],
        dialog=confirm_dialog(
            "Undrain this agent?", "The scheduler places new kernels on it again.", "Undrain"
        ),
    )
    def undrain_agent(
        self, request: HttpRequest, form: BaseDialogForm, object_id: str
    ) -> HttpResponse:
        changed = agents_set_schedulable(agent_ids=[object_id], schedulable=True)
        messages.success(request, "Undrained." if changed else "The agent was not drained.")
        return action_done(request, _change_url(object_id))

    @action(
        description="Rescan images",
        icon="refresh",
        permissions=["change"],
        dialog=confirm_dialog(
            "Rescan this agent's images?",
            "The image catalog is updated from the images the agent last reported.",
            "Rescan",
        ),
    )
    def rescan_agent_images(
        self, request: HttpRequest, form: BaseDialogForm, object_id: str
    ) -> HttpResponse:
        result = images_rescan_from_agents(agent_ids=[object_id])
        messages.success(request, f"Images: {result.created} added, {result.updated} updated.")
        for error in result.errors:
            messages.warning(request, error)
        return action_done(request, _change_url(object_id))
