"""What each role may do in the admin console (Django's permission strings)."""

from __future__ import annotations

from .enums import ROLE_RANK, UserRole

# Models a domain admin may add, change or delete (always inside their own domain).
DOMAIN_ADMIN_WRITABLE = frozenset(
    {
        "accounts.user",
        "accounts.project",
        "accounts.keypair",
        "accounts.projectmembership",
    }
)
# Models a domain admin may see (read-only when not writable).
DOMAIN_ADMIN_READABLE = DOMAIN_ADMIN_WRITABLE | {
    "accounts.domain",
    "accounts.keypairresourcepolicy",
    "accounts.userresourcepolicy",
    "accounts.projectresourcepolicy",
    "accounts.resourcepreset",
}
MONITOR_APPS = frozenset({"accounts", "agents_app", "sessions_app", "storage_app"})


def _split(perm: str) -> tuple[str, str, str]:
    app_label, _, codename = perm.partition(".")
    action, _, model = codename.partition("_")
    return app_label, action, model


def role_has_perm(role: str, perm: str) -> bool:
    """True when `role` holds the Django permission `app_label.action_model`."""
    app_label, action, model = _split(perm)
    match role:
        case UserRole.SUPERADMIN:
            return True
        case UserRole.ADMIN:
            key = f"{app_label}.{model}"
            if action == "view":
                return key in DOMAIN_ADMIN_READABLE
            if key == "accounts.domain":
                return action == "change"
            return key in DOMAIN_ADMIN_WRITABLE
        case UserRole.MONITOR:
            return action == "view" and app_label in MONITOR_APPS
    return False


def role_has_module_perms(role: str, app_label: str) -> bool:
    match role:
        case UserRole.SUPERADMIN:
            return True
        case UserRole.ADMIN:
            return app_label == "accounts"
        case UserRole.MONITOR:
            return app_label in MONITOR_APPS
    return False


def role_may_grant(granter_role: str, granted_role: str) -> bool:
    """A role may hand out only roles at or below its own; plain users and monitors grant none."""
    if granter_role not in (UserRole.SUPERADMIN, UserRole.ADMIN):
        return False
    return ROLE_RANK[UserRole(granted_role)] <= ROLE_RANK[UserRole(granter_role)]


def grantable_roles(granter_role: str) -> list[UserRole]:
    return [role for role in UserRole if role_may_grant(granter_role, role)]
