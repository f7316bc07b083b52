"""Reads of the audit log, scoped by the reader's role."""

from __future__ import annotations

from django.db.models import QuerySet

from backendai_site.accounts.models import Domain, User
from backendai_site.accounts.selectors import user_watched_domain_id
from backendai_site.common.errors import PermissionDenied

from .models import AuditLogEntry

# the Django permission that decides who reads the audit log (accounts.permissions.role_has_perm:
# superadmins, and domain admins for their domain)
AUDIT_VIEW_PERM = "audit.view_auditlogentry"


def audit_entries_visible_to(*, actor: User) -> QuerySet[AuditLogEntry]:
    """Entries `actor` may read: every one for a superadmin, those whose actor was in its domain
    for a domain admin; anyone without the view permission is refused."""
    if not actor.has_perm(AUDIT_VIEW_PERM):
        raise PermissionDenied(f"a {actor.role} may not read the audit log")
    qs = AuditLogEntry.objects.all()
    domain_id = user_watched_domain_id(user=actor)
    if domain_id is None:
        return qs
    name = Domain.objects.filter(pk=domain_id).values_list("name", flat=True).first()
    return qs.filter(domain_name=name) if name is not None else qs.none()
