"""The console's theme settings and its sidebar, grouped by what operators do rather than by
Django app. Imported by settings, so it names admin pages by URL name only (no model imports)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django.http import HttpRequest
from django.templatetags.static import static
from django.urls import reverse_lazy

# (group title, [(item title, material-symbols icon, "app_label.model_name")])
GROUPS: list[tuple[str, list[tuple[str, str, str]]]] = [
    (
        "Compute",
        [
            ("Sessions", "terminal", "sessions_app.session"),
            ("Agents", "dns", "agents_app.agent"),
            ("Images", "deployed_code", "agents_app.image"),
            ("Image aliases", "label", "agents_app.imagealias"),
            ("Container registries", "inventory_2", "agents_app.containerregistry"),
            ("Resource presets", "tune", "agents_app.resourcepreset"),
            ("Warm pools", "local_fire_department", "sessions_app.warmpool"),
            ("Session templates", "description", "templates_app.sessiontemplate"),
        ],
    ),
    (
        "Storage",
        [
            ("Storage volumes", "hard_drive", "storage_app.storagevolume"),
            ("Virtual folders", "folder", "storage_app.vfolder"),
            ("Folder invitations", "forward_to_inbox", "storage_app.vfolderinvitation"),
        ],
    ),
    (
        "Tenancy",
        [
            ("Domains", "domain", "accounts.domain"),
            ("Projects", "groups", "accounts.project"),
            ("Users", "person", "accounts.user"),
            ("Keypairs", "key", "accounts.keypair"),
            ("Keypair policies", "policy", "accounts.keypairresourcepolicy"),
            ("User policies", "policy", "accounts.userresourcepolicy"),
            ("Project policies", "policy", "accounts.projectresourcepolicy"),
            ("Dotfiles", "settings", "templates_app.dotfile"),
            ("Permission groups", "shield_person", "auth.group"),
        ],
    ),
    (
        "Scheduling",
        [
            ("Resource groups", "hub", "agents_app.resourcegroup"),
            ("Fair-share weights", "balance", "sessions_app.fairshareweight"),
        ],
    ),
    (
        "Operations",
        [
            ("Usage ledger", "bar_chart", "sessions_app.usageinterval"),
            ("Audit log", "history", "audit.auditlogentry"),
            ("Error log", "error", "manager.errorlog"),
            ("Manager state", "monitor_heart", "manager.managerstate"),
            ("Periodic tasks", "schedule", "django_celery_beat.periodictask"),
            ("Interval schedules", "timer", "django_celery_beat.intervalschedule"),
            ("Crontab schedules", "event_repeat", "django_celery_beat.crontabschedule"),
            ("Login attempts", "lock", "axes.accessattempt"),
            ("Login failures", "lock_clock", "axes.accessfailurelog"),
            ("Login log", "login", "axes.accesslog"),
        ],
    ),
]


def may_view(model: str) -> Callable[[HttpRequest], bool]:
    """A sidebar item shows only to a console user who may open its list (view or change)."""
    app_label, model_name = model.split(".")

    def check(request: HttpRequest) -> bool:
        user = request.user
        return user.has_perm(f"{app_label}.view_{model_name}") or user.has_perm(
            f"{app_label}.change_{model_name}"
        )

    return check


def sidebar_navigation() -> list[dict[str, Any]]:
    return [
        {
            "title": title,
            "separator": True,
            "collapsible": False,
            "items": [
                {
                    "title": item_title,
                    "icon": icon,
                    "link": reverse_lazy(f"admin:{model.replace('.', '_')}_changelist"),
                    "permission": may_view(model),
                }
                for item_title, icon, model in items
            ],
        }
        for title, items in GROUPS
    ]


UNFOLD: dict[str, Any] = {
    "SITE_TITLE": "Backend.AI console",
    "SITE_HEADER": "Backend.AI",
    "SITE_SUBHEADER": "compute sessions",
    "SITE_SYMBOL": "memory",
    "SITE_URL": "/admin/",
    "SHOW_HISTORY": True,
    "SHOW_VIEW_ON_SITE": False,
    # the front page: backendai_site/console/views.py and templates/console/dashboard.html
    "DASHBOARD_CALLBACK": "backendai_site.console.views.dashboard_callback",
    # sends the browser's time zone in a cookie (console/middleware.py activates it)
    "SCRIPTS": [lambda request: static("console/timezone.js")],
    "SIDEBAR": {
        "show_search": True,
        "show_all_applications": False,
        "navigation": sidebar_navigation(),
    },
}
