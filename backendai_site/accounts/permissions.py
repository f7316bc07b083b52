"""What each role may do: in the admin console (Django's permission strings), and the one check
for the API's superadmin-only actions."""

from __future__ import annotations

from typing import TYPE_CHECKING

from backendai_site.common.errors import PermissionDenied

from .enums import ROLE_RANK, UserRole

if TYPE_CHECKING:
    from .models import User

# Models a domain admin may add, change or delete (always inside their own domain).
DOMAIN_ADMIN_WRITABLE = frozenset(
    {
        "accounts.user",
        "accounts.project",
        "accounts.keypair",
        "accounts.projectmembership",
        # storage, scoped to the domain by storage_app.admin
        "storage_app.vfolder",
        "storage_app.vfolderpermission",
        "storage_app.vfolderinvitation",
    }
)
# Models a domain admin may change but never add or delete: sessions are made through the API
# and ended by their destroy action; sessions_app.admin confines them to the domain.
DOMAIN_ADMIN_CHANGEABLE = frozenset({"sessions_app.session"})
# Models a domain admin may see (read-only when not writable).
DOMAIN_ADMIN_READABLE = (
    DOMAIN_ADMIN_WRITABLE
    | DOMAIN_ADMIN_CHANGEABLE
    | {
        # the usage ledger, scoped to the domain by sessions_app.selectors_usage.usage_scope
        "sessions_app.usageinterval",
        "accounts.domain",
        "accounts.keypairresourcepolicy",
        "accounts.userresourcepolicy",
        "accounts.projectresourcepolicy",
        "accounts.resourcepreset",
        "storage_app.storagevolume",
        # the audit log, scoped to the domain by backendai_site.audit.selectors
        "audit.auditlogentry",
    }
)
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
            if key == "accounts.domain" or key in DOMAIN_ADMIN_CHANGEABLE:
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
            return app_label in ("accounts", "storage_app", "audit", "sessions_app")
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


def superadmin_require(actor: User, *, to: str) -> None:
    """Superadmin-only actions (managing domains, policies, resource groups, images): anyone
    else is refused with a 403 saying what their role may not do."""
    if actor.role != UserRole.SUPERADMIN:
        raise PermissionDenied(f"a {actor.role} may not {to}")
