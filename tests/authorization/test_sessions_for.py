"""The rule itself, for what the endpoint matrix does not reach: inactive actors, console users
owning several keypairs, and the `owner_access_key` lookup of staff callers."""

from __future__ import annotations

from typing import Any, cast

import pytest
from django.test import Client

from backendai_site.accounts.enums import UserRole, UserStatus
from backendai_site.accounts.services import keypair_issue
from sessions_app.enums import SessionAction, SessionStatus
from sessions_app.errors import (
    OwnerNotPermitted,
    SessionActionNotPermitted,
    SessionNotFound,
)
from sessions_app.models import Session
from sessions_app.selectors import session_get_by_ref, sessions_for
from tests.factories.accounts import DomainFactory
from tests.factories.sessions import (
    SessionFactory,
    owner_session_kwargs,
    session_dependency_create,
)
from tests.helpers.credentials import Credentials, make_credentials, signed_headers

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def _fast_passwords(settings: Any) -> None:
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


def session_of(creds: Credentials) -> Session:
    return cast(
        Session,
        SessionFactory(status=SessionStatus.RUNNING, **owner_session_kwargs(creds.keypair)),
    )


class TestSessionsFor:
    def test_an_inactive_user_may_do_nothing_even_to_their_own(self) -> None:
        owner = make_credentials()
        session_of(owner)
        owner.user.status = UserStatus.INACTIVE
        owner.user.save(update_fields=["status"])

        for actor in (owner.user, owner.keypair):
            assert not sessions_for(actor, SessionAction.VIEW).exists()

    def test_a_revoked_keypair_may_do_nothing(self) -> None:
        owner = make_credentials()
        session_of(owner)
        owner.keypair.is_active = False

        assert not sessions_for(owner.keypair, SessionAction.VIEW).exists()

    def test_a_keypair_owns_its_sessions_and_a_console_user_all_of_theirs(self) -> None:
        owner = make_credentials()
        first = session_of(owner)
        second_key = keypair_issue(user=owner.user).keypair
        second = cast(
            Session,
            SessionFactory(status=SessionStatus.RUNNING, **owner_session_kwargs(second_key)),
        )

        by_key = set(sessions_for(owner.keypair, SessionAction.MANAGE).values_list("pk", flat=True))
        by_user = set(sessions_for(owner.user, SessionAction.MANAGE).values_list("pk", flat=True))

        assert by_key == {first.pk}
        assert by_user == {first.pk, second.pk}

    def test_a_monitor_acts_on_its_own_sessions(self) -> None:
        monitor = make_credentials(role=UserRole.MONITOR)
        own = session_of(monitor)

        managed = session_get_by_ref(
            requester=monitor.keypair, ref=str(own.pk), action=SessionAction.MANAGE
        )

        assert managed.pk == own.pk


class TestOwnerAccessKeyLookup:
    def test_a_monitor_finds_a_session_by_name_for_its_owner_but_may_not_act(self) -> None:
        alpha = DomainFactory.create(name="alpha")
        owner = make_credentials(domain=alpha)
        session = session_of(owner)
        monitor = make_credentials(role=UserRole.MONITOR, domain=alpha)

        found = session_get_by_ref(
            requester=monitor.keypair,
            ref=session.name,
            action=SessionAction.VIEW,
            owner_access_key=owner.access_key,
        )
        with pytest.raises(SessionActionNotPermitted):
            session_get_by_ref(
                requester=monitor.keypair,
                ref=session.name,
                action=SessionAction.MANAGE,
                owner_access_key=owner.access_key,
            )

        assert found.pk == session.pk

    def test_another_domains_admin_does_not_find_it(self) -> None:
        owner = make_credentials(domain=DomainFactory.create(name="alpha"))
        session = session_of(owner)
        admin = make_credentials(role=UserRole.ADMIN, domain=DomainFactory.create(name="beta"))

        with pytest.raises(SessionNotFound):
            session_get_by_ref(
                requester=admin.keypair,
                ref=session.name,
                action=SessionAction.VIEW,
                owner_access_key=owner.access_key,
            )

    def test_a_plain_user_may_not_name_another_owner(self) -> None:
        owner = make_credentials()
        session = session_of(owner)
        other = make_credentials(domain=owner.user.domain)

        with pytest.raises(OwnerNotPermitted):
            session_get_by_ref(
                requester=other.keypair,
                ref=session.name,
                action=SessionAction.VIEW,
                owner_access_key=owner.access_key,
            )


class TestDependencyGraph:
    def test_shows_only_dependencies_the_caller_may_view(self) -> None:
        owner = make_credentials()
        mine, also_mine = session_of(owner), session_of(owner)
        foreign = session_of(make_credentials())
        session_dependency_create(session=mine, depends_on=also_mine)
        session_dependency_create(session=mine, depends_on=foreign)
        url = f"/session/{mine.pk}/dependency-graph"
        headers = signed_headers(
            access_key=owner.access_key, secret_key=owner.secret_key, method="GET", rel_url=url
        )

        graph = Client().get(url, **headers).json()

        assert [dep["session_id"] for dep in graph["depends_on"]] == [str(also_mine.pk)]
