"""Bounds on what one GraphQL request may ask for, checked before anything is resolved.

Without them one request of 500 aliased `compute_session_list` fields cost the server 11 s. The
document is parsed with a token and size cap, then validated with the standard rules plus a
depth limit (graphene's) and a rule of our own that counts, with fragments expanded where they
are spread, the aliased fields and a cost: every field costs 1, and every field of the root
type (each is at least one database round trip) costs ROOT_FIELD_COST.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from graphene.validation import depth_limit_validator
from graphql import (
    ASTValidationRule,
    DocumentNode,
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    ValidationContext,
    parse,
    specified_rules,
)

MAX_DEPTH = 8
MAX_ALIASES = 20
MAX_COST = 400
ROOT_FIELD_COST = 20
MAX_TOKENS = 20_000
MAX_SOURCE_LENGTH = 50_000


@dataclass
class _Tally:
    aliases: int = 0
    cost: int = 0


class QueryBudgetRule(ASTValidationRule):
    """Refuses an operation with too many aliases or too high a cost (fragments expanded)."""

    def __init__(self, context: ValidationContext) -> None:
        super().__init__(context)
        self.validation_context = context

    def enter_operation_definition(self, node: OperationDefinitionNode, *_: Any) -> None:
        tally = _Tally()
        self._walk(node.selection_set, tally, depth=0, expanding=())
        name = node.name.value if node.name else "the operation"
        if tally.aliases > MAX_ALIASES:
            self.report_error(
                GraphQLError(
                    f"{name} uses {tally.aliases} aliases; at most {MAX_ALIASES} are allowed.",
                    node,
                    extensions={"code": "ALIAS_LIMIT_EXCEEDED", "limit": MAX_ALIASES},
                )
            )
        if tally.cost > MAX_COST:
            self.report_error(
                GraphQLError(
                    f"{name} costs {tally.cost}; at most {MAX_COST} is allowed "
                    f"(each field costs 1, each top-level field {ROOT_FIELD_COST}).",
                    node,
                    extensions={"code": "QUERY_COST_EXCEEDED", "limit": MAX_COST},
                )
            )

    def _walk(
        self,
        selection_set: SelectionSetNode | None,
        tally: _Tally,
        *,
        depth: int,
        expanding: tuple[str, ...],
    ) -> None:
        if selection_set is None or tally.cost > MAX_COST:
            return  # over budget already: the verdict cannot change, stop counting
        for selection in selection_set.selections:
            if isinstance(selection, FieldNode):
                tally.cost += ROOT_FIELD_COST if depth == 0 else 1
                if selection.alias is not None:
                    tally.aliases += 1
                self._walk(selection.selection_set, tally, depth=depth + 1, expanding=expanding)
            elif isinstance(selection, InlineFragmentNode):
                self._walk(selection.selection_set, tally, depth=depth, expanding=expanding)
            elif isinstance(selection, FragmentSpreadNode):
                name = selection.name.value
                fragment = self.validation_context.get_fragment(name)
                if fragment is None or name in expanding:
                    continue  # unknown or cyclic: the standard rules report those
                self._walk(fragment.selection_set, tally, depth=depth, expanding=(*expanding, name))


def query_parse(query: str) -> DocumentNode:
    """Parse with a cap on tokens and length (raises GraphQLError beyond them)."""
    return parse(query, max_tokens=MAX_TOKENS, max_source_length=MAX_SOURCE_LENGTH)


def validation_rules() -> Sequence[type[ASTValidationRule]]:
    return (*specified_rules, depth_limit_validator(max_depth=MAX_DEPTH), QueryBudgetRule)
