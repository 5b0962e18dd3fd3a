"""An OpenFeature provider over ``FlagFile``, so apps can use the standard API.

    from openfeature import api
    from console.flags.openfeature_provider import ShipdeckProvider

    api.set_provider(ShipdeckProvider(FlagFile("config/flags.toml", "production")))
    api.get_client().get_boolean_value("new-checkout-flow", False,
                                       EvaluationContext(targeting_key=user.id))

It is a thin adapter over the same engine as ``FlagFile.evaluate``: the targeting
key becomes ``user_id`` (unless the attributes carry one), reasons are OpenFeature's,
and an unknown flag resolves to the caller's default with ``FLAG_NOT_FOUND``.
shipdeck flags are boolean; asking for a string/number/object is ``TYPE_MISMATCH``.
Reloads of the file are emitted as provider events (configuration changed, or error
while the last good flags keep serving). This is the only module importing openfeature.
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

from openfeature.evaluation_context import EvaluationContext
from openfeature.event import ProviderEventDetails
from openfeature.exception import ErrorCode, GeneralError
from openfeature.flag_evaluation import FlagResolutionDetails, Reason
from openfeature.provider import AbstractProvider, Metadata

from console.flags.evaluate import FLAG_NOT_FOUND, FlagFile
from console.flags.model import FlagSet

_REASONS = {reason.value: reason for reason in Reason}
_ERRORS = {FLAG_NOT_FOUND: ErrorCode.FLAG_NOT_FOUND}


class ShipdeckProvider(AbstractProvider):
    """OpenFeature provider for a shipdeck flags file (boolean flags)."""

    def __init__(
        self,
        flags: FlagFile | str | os.PathLike[str],
        environment: str = "production",
    ) -> None:
        super().__init__()
        self._owns_flags = not isinstance(flags, FlagFile)
        self.flags = flags if isinstance(flags, FlagFile) else FlagFile(flags, environment)
        self._seen: FlagSet = self.flags.flags
        self._in_error = False
        self.flags.subscribe(self._on_reload)

    def get_metadata(self) -> Metadata:
        return Metadata(name="shipdeck")

    def initialize(self, evaluation_context: EvaluationContext) -> None:
        """Fails (provider status ERROR) only if no version of the file ever loaded."""
        if self.flags.version == 0 and self.flags.last_error:
            self._in_error = True
            raise GeneralError(error_message=self.flags.last_error)

    def shutdown(self) -> None:
        if self._owns_flags:
            self.flags.close()

    # -- events ------------------------------------------------------------------------------

    def _on_reload(self, error: str | None) -> None:
        if error is not None:
            self._in_error = True
            self.emit_provider_error(
                ProviderEventDetails(
                    message=f"keeping the last good flags: {error}",
                    error_code=ErrorCode.PARSE_ERROR,
                )
            )
            return
        current = self.flags.flags
        changed = sorted(
            key
            for key in set(current.flags) | set(self._seen.flags)
            if current.get(key) != self._seen.get(key)
        )
        self._seen = current
        if self._in_error:
            self._in_error = False
            self.emit_provider_ready(ProviderEventDetails(message="flags file loaded"))
        if changed:
            self.emit_provider_configuration_changed(ProviderEventDetails(flags_changed=changed))

    # -- resolution --------------------------------------------------------------------------

    def resolve_boolean_details(
        self,
        flag_key: str,
        default_value: bool,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[bool]:
        result = self.flags.evaluate(flag_key, _context(evaluation_context), default=default_value)
        metadata: dict[str, bool | int | float | str] = {"environment": self.flags.environment}
        if result.bucket is not None:
            metadata["bucket"] = result.bucket
        return FlagResolutionDetails(
            value=result.value,
            reason=_REASONS.get(result.reason, result.reason),
            variant=result.variant,
            error_code=(
                _ERRORS.get(result.error_code, ErrorCode.GENERAL) if result.error_code else None
            ),
            error_message=result.error_message,
            flag_metadata=metadata,
        )

    def resolve_string_details(
        self,
        flag_key: str,
        default_value: str,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[str]:
        return self._not_boolean(flag_key, default_value, "string")

    def resolve_integer_details(
        self,
        flag_key: str,
        default_value: int,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[int]:
        return self._not_boolean(flag_key, default_value, "integer")

    def resolve_float_details(
        self,
        flag_key: str,
        default_value: float,
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[float]:
        return self._not_boolean(flag_key, default_value, "float")

    def resolve_object_details(
        self,
        flag_key: str,
        default_value: Sequence[Any] | Mapping[str, Any],
        evaluation_context: EvaluationContext | None = None,
    ) -> FlagResolutionDetails[Sequence[Any] | Mapping[str, Any]]:
        return self._not_boolean(flag_key, default_value, "object")

    def _not_boolean(self, flag_key: str, default_value: Any, kind: str) -> FlagResolutionDetails:
        if flag_key not in self.flags.flags:
            return FlagResolutionDetails(
                value=default_value,
                reason=Reason.ERROR,
                error_code=ErrorCode.FLAG_NOT_FOUND,
                error_message=f"flag {flag_key!r} not found",
            )
        return FlagResolutionDetails(
            value=default_value,
            reason=Reason.ERROR,
            error_code=ErrorCode.TYPE_MISMATCH,
            error_message=f"flag {flag_key!r} is boolean, not {kind}",
        )


def _context(evaluation_context: EvaluationContext | None) -> Mapping[str, Any] | None:
    """OpenFeature context → shipdeck context: the targeting key is the ``user_id``."""
    if evaluation_context is None:
        return None
    attributes = evaluation_context.attributes
    key = evaluation_context.targeting_key
    if key is None or "user_id" in attributes:
        return attributes
    return {**attributes, "user_id": key}
