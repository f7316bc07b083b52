"""Pagination for every collection endpoint."""

from __future__ import annotations

from typing import Any

from django.db.models import QuerySet
from rest_framework.pagination import LimitOffsetPagination
from rest_framework.request import Request


class DefaultPagination(LimitOffsetPagination):
    default_limit = 50
    max_limit = 1000
    _count_from: QuerySet[Any] | None = None

    def paginate_counted(
        self, queryset: QuerySet[Any], request: Request, *, count_from: QuerySet[Any], view: Any
    ) -> list[Any] | None:
        """Page `queryset` but count the rows of `count_from`: the same rows without the joins a
        `.values()` of related fields adds, which the count does not need (an inner join on a
        non-null key never changes the number of rows) and which cost most of a list's time."""
        self._count_from = count_from
        try:
            return self.paginate_queryset(queryset, request, view)
        finally:
            self._count_from = None

    def get_count(self, queryset: Any) -> int:
        source = self._count_from
        return int(super().get_count(queryset if source is None else source.order_by()))
