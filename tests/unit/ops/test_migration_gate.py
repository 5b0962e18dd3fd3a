"""The migration gate refuses any swap that runs code against a schema it cannot handle."""

from __future__ import annotations

import pytest

from console.core.errors import Blocked, InvalidInput
from console.core.ops.gate import LiveSchema, SchemaDeclaration, check_swap, live_schema


def test_labels_declare_needs_and_supports():
    labels = {"shipdeck.schema.needs": "5", "shipdeck.schema.supports": "4"}
    assert SchemaDeclaration.from_labels(labels, "shipdeck.schema") == SchemaDeclaration(5, 4)


def test_a_release_without_labels_is_not_gated():
    assert SchemaDeclaration.from_labels({}, "shipdeck.schema") is None
    assert check_swap("v9", None, LiveSchema(7, 7, "v8")) == LiveSchema(7, 7, "v8")


def test_non_integer_labels_are_invalid_input():
    with pytest.raises(InvalidInput):
        SchemaDeclaration.from_labels({"shipdeck.schema.needs": "five"}, "shipdeck.schema")


def test_live_schema_is_the_highest_needs_that_went_live():
    history = [("v1", SchemaDeclaration(3, 3)), ("v2", SchemaDeclaration(5, 4)), ("v0", None)]
    assert live_schema(history) == LiveSchema(5, 4, "v2")


def test_an_expand_migration_that_keeps_the_standby_working_is_allowed():
    after = check_swap(
        "v3", SchemaDeclaration(6, 5), LiveSchema(5, 4, "v2"), "v2", SchemaDeclaration(5, 4)
    )
    assert after == LiveSchema(6, 5, "v3")


def test_a_contract_migration_that_breaks_the_warm_standby_is_refused():
    with pytest.raises(Blocked, match="v2 \\(needs 5\\) must keep running as the rollback target"):
        check_swap(
            "v3", SchemaDeclaration(6, 6), LiveSchema(5, 4, "v2"), "v2", SchemaDeclaration(5, 4)
        )


def test_code_older_than_the_schema_floor_is_refused():
    with pytest.raises(Blocked, match="cannot swap to v1: it needs schema 3"):
        check_swap("v1", SchemaDeclaration(3, 3), LiveSchema(5, 4, "v2"))


def test_a_rollback_below_the_floor_is_refused():
    with pytest.raises(Blocked, match="cannot roll back to v1"):
        check_swap("v1", SchemaDeclaration(3, 3), LiveSchema(5, 4, "v2"), is_rollback=True)


def test_a_rollback_within_the_supported_range_is_allowed():
    assert check_swap(
        "v2", SchemaDeclaration(4, 4), LiveSchema(5, 4, "v3"), is_rollback=True
    ) == LiveSchema(5, 4, "v3")
