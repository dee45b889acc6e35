"""Checks shared by the repository's templates (k8s/ YAML, the Step Functions ASL documents)."""

from __future__ import annotations

import re
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


_PLACEHOLDER = re.compile(r"^\$\{([A-Za-z][A-Za-z0-9]*)\}$")


def placeholders(document: Any) -> set[str]:
    """Every whole-string `${Name}` a JSON document (an ASL definition) expects."""
    if isinstance(document, dict):
        return set().union(*(placeholders(v) for v in document.values())) if document else set()
    if isinstance(document, list):
        return set().union(*(placeholders(v) for v in document)) if document else set()
    if isinstance(document, str) and (match := _PLACEHOLDER.match(document)):
        return {match.group(1)}
    return set()


def substitute(document: Any, values: Mapping[str, Any]) -> Any:
    """The document with each whole-string placeholder replaced by its typed value (a number, a
    list, a nested document), so the result has no string templating left in it."""
    if isinstance(document, dict):
        return {key: substitute(value, values) for key, value in document.items()}
    if isinstance(document, list):
        return [substitute(value, values) for value in document]
    if isinstance(document, str) and (match := _PLACEHOLDER.match(document)):
        return values[match.group(1)]
    return document


def render_document(source: str, document: Any, values: Mapping[str, Any]) -> Any:
    """`substitute` after checking that the values match the placeholders exactly."""
    require_exact_values(source, placeholders(document), values)
    return substitute(document, values)
