"""The system checks run before any migration (makemigrations --check, the first migrate on a
fresh database), so none of them may read a table: an admin action's dotted permission would."""

from __future__ import annotations

import pytest
from django.core.management import call_command
from pytest_django import DjangoAssertNumQueries

pytestmark = pytest.mark.django_db


def test_system_checks_read_no_table(django_assert_num_queries: DjangoAssertNumQueries) -> None:
    with django_assert_num_queries(0):
        call_command("check", verbosity=0)
