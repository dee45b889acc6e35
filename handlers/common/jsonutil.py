"""JSON <-> DynamoDB-friendly values: floats become Decimal going in, Decimal becomes int/float out."""

from __future__ import annotations

import base64
import json
from decimal import Decimal
from typing import Any


def _default(value: Any) -> Any:
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (set, frozenset)):
        return sorted(value)
    if isinstance(value, (bytes, bytearray)):
        return base64.b64encode(bytes(value)).decode()
    raise TypeError(f"{type(value).__name__} is not JSON serialisable")


def dumps(value: Any) -> str:
    """Serialise values read from DynamoDB (Decimal, sets, bytes) as plain JSON."""
    return json.dumps(value, default=_default, separators=(",", ":"))


def loads(text: str | bytes) -> Any:
    """Parse JSON with every non-integer number as Decimal, as DynamoDB requires."""
    return json.loads(text, parse_float=Decimal)
