"""`export_csv_blocks`: rows in blocks of one query each, the row cap, and cell formatting."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from backendai_site.accounts.models import User
from backendai_site.export.reports import USERS
from backendai_site.export.streaming import export_csv_blocks, export_value_text
from tests.factories.accounts import UserFactory
from tests.helpers.export import csv_table

pytestmark = pytest.mark.django_db


class TestExportCsvBlocks:
    def test_blocks_cover_every_row_once_up_to_the_cap(self) -> None:
        UserFactory.create_batch(7)
        email = next(f for f in USERS.fields if f.key == "email")
        rows = User.objects.order_by("pk").values_list("email")

        with CaptureQueriesContext(connection) as queries:
            blocks = list(export_csv_blocks([email], rows, encoding="utf-8", block_rows=3))
        capped = list(export_csv_blocks([email], rows, encoding="utf-8", block_rows=3, max_rows=4))

        table = csv_table(b"".join(blocks))
        assert table[0] == ["Email"]
        assert sorted(r[0] for r in table[1:]) == sorted(
            User.objects.values_list("email", flat=True)
        )
        assert len(queries) == 3  # 3 + 3 + 1 rows
        assert len(csv_table(b"".join(capped))) == 1 + 4

    def test_cells(self) -> None:
        assert export_value_text(None) == ""
        assert export_value_text(True) == "True"
        assert export_value_text(datetime(2026, 1, 2, tzinfo=UTC)) == "2026-01-02T00:00:00+00:00"
        assert export_value_text({"mem": "1", "cpu": "2"}) == '{"cpu": "2", "mem": "1"}'
