"""Python values <-> DynamoDB attribute values, one serialiser for every handler.

Numbers follow DynamoDB's rules (boto3's context: 38 significant digits, exponent -130..+125):
`storable()` says in advance whether a value can be written, so a record carrying an unstorable
number is refused when it is decoded, not when its write fails and is retried.
"""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any

from boto3.dynamodb.types import TypeDeserializer, TypeSerializer

_SERIALIZER = TypeSerializer()
_DESERIALIZER = TypeDeserializer()


class UnstorableValueError(ValueError):
    """A value DynamoDB cannot hold (e.g. a number past 38 significant digits or out of range)."""


def to_dynamo(value: Any) -> dict[str, Any]:
    """One Python value as a DynamoDB attribute value (`{"S": ...}`, `{"N": ...}`, `{"M": ...}`...)."""
    try:
        return _SERIALIZER.serialize(value)
    except ArithmeticError as error:  # decimal.Inexact/Rounded/Overflow/Underflow/Clamped
        raise UnstorableValueError(
            f"{value!r} is not a DynamoDB number (at most 38 significant digits, magnitude 1E-130 to 1E+126)"
        ) from error
    except TypeError as error:
        raise UnstorableValueError(str(error)) from error


def to_item(values: Mapping[str, Any]) -> dict[str, dict[str, Any]]:
    return {name: to_dynamo(value) for name, value in values.items()}


def from_dynamo(item: Mapping[str, Any]) -> dict[str, Any]:
    """A whole item (or key) as plain Python values; numbers come back as Decimal."""
    return {name: _DESERIALIZER.deserialize(value) for name, value in item.items()}


# DynamoDB's documented number range: positive 1E-130 to 9.9999999999999999999999999999999999999E+125.
MIN_ADJUSTED_EXPONENT, MAX_ADJUSTED_EXPONENT = -130, 125


def check_number(value: int | Decimal) -> None:
    """Raise UnstorableValueError unless DynamoDB can store `value` exactly."""
    number = Decimal(value)
    if not number.is_finite():
        raise UnstorableValueError(f"{value!r} is not a finite number")
    if number and not MIN_ADJUSTED_EXPONENT <= number.adjusted() <= MAX_ADJUSTED_EXPONENT:
        raise UnstorableValueError(f"{value!r} is outside DynamoDB's number range (1E-130 to 1E+126)")
    to_dynamo(number)
