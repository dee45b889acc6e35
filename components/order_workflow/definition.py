"""The order state machine's ASL documents and their deploy-time rendering.

The documents in `definitions/` are plain ASL, readable and diffable as they are (open them in
Workflow Studio). Values that differ per stack are whole-string placeholders `"${Name}"`; rendering
replaces each with its typed value (an ARN string, a number), so the rendered definition is ASL with
no string templating left in it. A placeholder without a value, or a value without a placeholder,
is an error: the document and the component cannot drift apart silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from components.templates import require_exact_values

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
PaymentIntegration = Literal["direct", "callback"]
# One ASL document per variant: `direct-http` is the direct integration charging an HTTP gateway
# through a Step Functions HTTP Task instead of the in-process sandbox.
DefinitionVariant = Literal["direct", "callback", "direct-http"]


def variant_for(integration: PaymentIntegration, gateway: str) -> DefinitionVariant:
    if integration == "direct" and gateway == "http":
        return "direct-http"
    return integration


_PLACEHOLDER = re.compile(r"^\$\{([A-Za-z][A-Za-z0-9]*)\}$")


def definition_path(variant: DefinitionVariant) -> Path:
    return DEFINITIONS_DIR / f"order-{variant}.asl.json"


def load_definition(variant: DefinitionVariant) -> dict[str, Any]:
    return json.loads(definition_path(variant).read_text())


def placeholders(document: Any) -> set[str]:
    """Every `${Name}` the document expects."""
    if isinstance(document, dict):
        return set().union(*(placeholders(v) for v in document.values())) if document else set()
    if isinstance(document, list):
        return set().union(*(placeholders(v) for v in document)) if document else set()
    if isinstance(document, str) and (match := _PLACEHOLDER.match(document)):
        return {match.group(1)}
    return set()


def _substitute(document: Any, values: Mapping[str, Any]) -> Any:
    if isinstance(document, dict):
        return {key: _substitute(value, values) for key, value in document.items()}
    if isinstance(document, list):
        return [_substitute(value, values) for value in document]
    if isinstance(document, str) and (match := _PLACEHOLDER.match(document)):
        return values[match.group(1)]
    return document


def render_definition(variant: DefinitionVariant, values: Mapping[str, Any]) -> str:
    """The ASL JSON for `variant` with every placeholder replaced by its value."""
    document = load_definition(variant)
    require_exact_values(definition_path(variant).name, placeholders(document), values)
    return json.dumps(_substitute(document, values), indent=2)
