"""The order state machine's ASL documents and their deploy-time rendering.

The documents in `definitions/` are plain ASL, readable and diffable as they are (open them in
Workflow Studio). Values that differ per stack are whole-string placeholders `"${Name}"`; rendering
replaces each with its typed value (an ARN string, a number), so the rendered definition is ASL with
no string templating left in it. A placeholder without a value, or a value without a placeholder,
is an error: the document and the component cannot drift apart silently.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any, Literal

from components.templates import placeholders as placeholders  # re-exported for the definition tests
from components.templates import render_document

DEFINITIONS_DIR = Path(__file__).resolve().parent / "definitions"
PaymentIntegration = Literal["direct", "callback"]
# One ASL document per variant: `direct-http` is the direct integration charging an HTTP gateway
# through a Step Functions HTTP Task instead of the in-process sandbox.
DefinitionVariant = Literal["direct", "callback", "direct-http"]


def variant_for(integration: PaymentIntegration, gateway: str) -> DefinitionVariant:
    if integration == "direct" and gateway == "http":
        return "direct-http"
    return integration


def definition_path(variant: DefinitionVariant) -> Path:
    return DEFINITIONS_DIR / f"order-{variant}.asl.json"


def load_definition(variant: DefinitionVariant) -> dict[str, Any]:
    return json.loads(definition_path(variant).read_text())


def render_definition(variant: DefinitionVariant, values: Mapping[str, Any]) -> str:
    """The ASL JSON for `variant` with every placeholder replaced by its value."""
    return json.dumps(render_document(definition_path(variant).name, load_definition(variant), values), indent=2)
