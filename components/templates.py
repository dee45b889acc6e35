"""Checks shared by the repository's templates (k8s/ YAML, the Step Functions ASL documents)."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any


class TemplateError(ValueError):
    """A template and the values given for it do not match."""


def require_exact_values(source: str, placeholders: Iterable[str], values: Mapping[str, Any]) -> None:
    """Every placeholder needs a value and every value a placeholder: a typo on either side fails loudly
    instead of shipping a literal `${name}` or silently dropping a setting."""
    expected = set(placeholders)
    missing = sorted(expected - set(values))
    unused = sorted(set(values) - expected)
    if missing or unused:
        raise TemplateError(f"{source}: placeholders without values {missing}, values without placeholders {unused}")
