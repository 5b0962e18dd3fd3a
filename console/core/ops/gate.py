"""The migration gate: never run code against a schema it cannot handle.

A release may declare two integers (image labels ``<schema_label>.needs`` and
``<schema_label>.supports``, or ``--schema-needs/--schema-supports``):

- ``needs``: the schema version its code requires; deploying it migrates the
  schema up to at least this version (forward-only migrations).
- ``supports``: the oldest code schema version that can still run against the
  schema this release brings (expand/contract: an additive migration keeps
  older code working).

The live schema is the highest ``needs`` among releases that went live; its
compatibility floor is the ``supports`` of the release that brought it. Code
with ``needs`` below the floor must not serve traffic: not as a new release,
not as the warm standby that keeps serving during a swap, not as a rollback
target. Releases that declare nothing are not gated.
"""

from __future__ import annotations

from dataclasses import dataclass

from console.core.errors import Blocked, InvalidInput


@dataclass(frozen=True)
class SchemaDeclaration:
    needs: int
    supports: int

    @classmethod
    def from_labels(cls, labels: dict[str, str], prefix: str) -> SchemaDeclaration | None:
        needs = labels.get(f"{prefix}.needs")
        supports = labels.get(f"{prefix}.supports")
        if needs is None and supports is None:
            return None
        try:
            n = int(needs if needs is not None else supports)  # type: ignore[arg-type]
            s = int(supports if supports is not None else n)
        except ValueError:
            raise InvalidInput(
                f"label {prefix}.needs/.supports must be integers, got {needs!r}/{supports!r}"
            ) from None
        if s > n:
            raise InvalidInput(
                f"schema supports={s} is newer than needs={n}: supports must be <= needs"
            )
        return cls(n, s)


@dataclass(frozen=True)
class LiveSchema:
    version: int
    floor: int
    brought_by: str


def live_schema(history: list[tuple[str, SchemaDeclaration | None]]) -> LiveSchema | None:
    """From releases that went live (name, declaration), the schema now in force."""
    best: LiveSchema | None = None
    for name, declaration in history:
        if declaration is None:
            continue
        if best is None or declaration.needs > best.version:
            best = LiveSchema(declaration.needs, declaration.supports, name)
    return best


def check_swap(
    target_name: str,
    target: SchemaDeclaration | None,
    schema: LiveSchema | None,
    standby_name: str | None = None,
    standby: SchemaDeclaration | None = None,
    *,
    is_rollback: bool = False,
) -> LiveSchema | None:
    """Refuse (``Blocked``, exit 3) a swap that breaks a release; return the schema after it."""
    if target is None:
        return schema
    if schema is not None and target.needs < schema.floor:
        verb = "roll back to" if is_rollback else "swap to"
        raise Blocked(
            f"migration gate: cannot {verb} {target_name}: it needs schema {target.needs}, but the live schema "
            f"{schema.version} (from {schema.brought_by}) only supports code from schema {schema.floor} up"
        )
    if is_rollback and schema is not None and target.needs > schema.version:
        raise Blocked(
            f"migration gate: cannot roll back to {target_name}: it needs schema {target.needs}, newer than "
            f"the live schema {schema.version}; deploy it instead"
        )
    after = schema
    if schema is None or target.needs > schema.version:
        after = LiveSchema(target.needs, target.supports, target_name)
    if after is not None and standby is not None and standby_name and standby.needs < after.floor:
        raise Blocked(
            f"migration gate: {target_name} brings schema {after.version} supporting code from schema "
            f"{after.floor} up, but {standby_name} (needs {standby.needs}) must keep running as the rollback "
            "target; ship an expand-only migration first"
        )
    return after
