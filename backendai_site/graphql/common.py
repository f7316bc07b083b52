"""Helpers shared by the admin GraphQL modules: the caller, value encodings, paging and the
translation of domain errors into GraphQL's error list or a mutation's `ok`/`msg`."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any, TypeVar

import graphene
from django.db.models import Model, QuerySet
from graphql import GraphQLError

from backendai_site.accounts.models import KeyPair, User
from backendai_site.common.errors import BackendError, PermissionDenied

MAX_LIMIT = 100
M = TypeVar("M", bound=Model)
T = TypeVar("T")


def caller_keypair(info: graphene.ResolveInfo) -> KeyPair:
    keypair = info.context["keypair"]
    assert isinstance(keypair, KeyPair)
    return keypair


def caller(info: graphene.ResolveInfo) -> User:
    return caller_keypair(info).user


def as_json(value: Any) -> str | None:
    return None if value is None else json.dumps(value)


def as_iso(value: Any) -> str | None:
    return None if value is None else value.isoformat()


def check_page(limit: int, offset: int) -> None:
    if not 1 <= limit <= MAX_LIMIT or offset < 0:
        raise GraphQLError(f"limit must be within 1..{MAX_LIMIT} and offset >= 0")


def ordering(order: str | None, allowed: frozenset[str], default: str) -> list[str]:
    """An `order` argument (`field`, `+field` or `-field`, comma-separated) checked against
    `allowed`; anything else is a GraphQL error naming the field."""
    if not order:
        return [default]
    result: list[str] = []
    for part in (p.strip() for p in order.split(",")):
        name = part.removeprefix("-").removeprefix("+")
        if name not in allowed:
            choices = ", ".join(sorted(allowed))
            raise GraphQLError(f"cannot order by {name!r}; use one of {choices}")
        result.append(f"-{name}" if part.startswith("-") else name)
    return result


def page[M: Model](qs: QuerySet[M], limit: int, offset: int) -> tuple[list[M], int]:
    """One COUNT and one SELECT (plus the caller's prefetches) for a page of `qs`."""
    check_page(limit, offset)
    return list(qs[offset : offset + limit]), qs.count()


def query_guard[T](fn: Callable[[], T]) -> T:
    """Run a query's service call; a domain error becomes a GraphQL error with its message."""
    try:
        return fn()
    except BackendError as exc:
        raise GraphQLError(str(exc)) from exc


def mutation_guard[T](fn: Callable[[], T]) -> tuple[T | None, str | None]:
    """Run a mutation's service call. A refusal by role is a GraphQL error (the caller may not
    make this mutation at all); other domain errors come back as `ok: false` with the message,
    as the reference does."""
    try:
        return fn(), None
    except PermissionDenied as exc:
        raise GraphQLError(str(exc)) from exc
    except BackendError as exc:
        return None, str(exc)


def input_values(props: Any) -> dict[str, Any]:
    """The fields the client actually sent in a graphene input object (unset ones omitted)."""
    return {key: value for key, value in dict(props).items()}
