"""Base model and validated value types shared by every section of the stack configuration."""

from __future__ import annotations

import ipaddress
import json
import re
import types
import typing
import unicodedata
from collections.abc import Callable, Iterator
from typing import Annotated, Any, Literal, Union

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    create_model,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

# A problem found by a cross-field rule: a sentence about the section, or (key, sentence) about one key,
# the key being a field name or a path (field name, then keys below it as the stack file spells them).
RuleProblem = str | tuple[str | tuple[str, ...], str]
RuleMethod = Callable[[Any], list[RuleProblem]]
CROSS_FIELD = "cross_field"


def rule(*fields: str) -> Callable[[RuleMethod], RuleMethod]:
    """Mark a ConfigModel method as a rule across `fields` (Python names); it returns its problems.

    Unlike a pydantic after-validator, a rule still runs when other keys of its section are invalid, so a
    stack file's field errors and cross-field errors are reported together; it is skipped only when one
    of its own fields is invalid (its message would otherwise quote a value the file does not hold).
    """

    def mark(method: RuleMethod) -> RuleMethod:
        method.__rule_fields__ = frozenset(fields)  # type: ignore[attr-defined]
        return method

    return mark


def _kinds(annotation: Any) -> set[type]:
    """The plain Python types a field annotation accepts (Literal values count by their type)."""
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is Annotated:
        return _kinds(args[0])
    if origin in (Union, types.UnionType):
        return set().union(*(_kinds(a) for a in args))
    if origin is Literal:
        return {type(a) for a in args}
    if origin is not None:
        return {origin}
    return {annotation} if isinstance(annotation, type) else set()


def _lossy_scalar(annotation: Any, value: Any) -> str | None:
    """Why a YAML scalar would be silently reinterpreted by lax coercion, if it would."""
    kinds = _kinds(annotation)
    if isinstance(value, bool):
        if bool not in kinds and kinds & {int, float}:
            return f"{json.dumps(value)} is a boolean, not a number"
    elif isinstance(value, float):
        if str in kinds and not kinds & {int, float}:
            return (
                f"{value!r} is read as a number, and YAML drops digits (1.30 becomes 1.3): "
                f'write it in quotes, e.g. "{value!r}"'
            )
    elif isinstance(value, list) and typing.get_origin(annotation) is list:
        item_annotation = (typing.get_args(annotation) or (Any,))[0]
        for index, item in enumerate(value):
            problem = _lossy_scalar(item_annotation, item)
            if problem:
                return f"item {index}: {problem}"
    return None


def _as_line_error(error: Any) -> Any:
    """A reported error as input for ValidationError.from_exception_data, keeping its type and message."""
    return {
        "type": PydanticCustomError(error["type"], "{message}", {"message": error["msg"]}),
        "loc": tuple(error["loc"]),
        "input": error.get("input"),
    }


class ConfigModel(BaseModel):
    """A frozen config section: camelCase keys in the stack file, unknown keys rejected.

    Every error of the section is reported at once: field errors, and the cross-field `@rule`s whose own
    fields are valid. Booleans are never numbers and numbers never silently become text.
    """

    model_config = ConfigDict(
        frozen=True,
        extra="forbid",
        alias_generator=to_camel,
        populate_by_name=True,
        validate_default=True,
        coerce_numbers_to_str=True,
    )

    @field_validator("*", mode="before")
    @classmethod
    def _no_lossy_scalars(cls, value: Any, info: Any) -> Any:
        field = cls.model_fields.get(info.field_name) if info.field_name else None
        problem = _lossy_scalar(field.annotation, value) if field is not None else None
        if problem:
            raise ValueError(problem)
        return value

    @model_validator(mode="wrap")
    @classmethod
    def _field_and_cross_field_errors(cls, data: Any, handler: Any) -> Any:
        if cls.__dict__.get("_lenient_copy", False):
            return handler(data)
        field_errors: list[Any] = []
        try:
            model = handler(data)
        except ValidationError as exc:
            field_errors = exc.errors()
            model = cls._valid_part(data, field_errors, handler)
        invalid = cls._invalid_fields(field_errors)
        rule_errors = [] if model is None else model._rule_errors(invalid, data)
        if not field_errors and not rule_errors:
            return model
        raise ValidationError.from_exception_data(
            cls.__name__, [*map(_as_line_error, field_errors), *rule_errors]
        ) from None

    @classmethod
    def _invalid_fields(cls, errors: list[Any]) -> set[str]:
        by_key = {info.alias or name: name for name, info in cls.model_fields.items()}
        return {by_key.get(str(e["loc"][0]), str(e["loc"][0])) for e in errors if e["loc"]}

    @classmethod
    def _valid_part(cls, data: Any, errors: list[Any], handler: Any) -> ConfigModel | None:
        """The section built from its valid keys only (defaults, or None for a required key, elsewhere) to
        run the rules on; None if the section itself is not a mapping."""
        if not isinstance(data, dict) or any(not e["loc"] for e in errors):
            return None
        keys = {str(e["loc"][0]) for e in errors}
        try:
            return cls._lenient().model_validate({k: v for k, v in data.items() if k not in keys})
        except ValidationError:
            return None

    @classmethod
    def _lenient(cls) -> type[ConfigModel]:
        """This model with every required key optional and no rules of its own: it holds the valid part
        of a section whose required keys may be the invalid ones."""
        cached = cls.__dict__.get("_lenient_model")
        if cached is None:
            optional: Any = {
                name: (info.annotation | None, None) for name, info in cls.model_fields.items() if info.is_required()
            }
            cached = create_model(f"{cls.__name__}Valid", __base__=cls, **optional)
            cached._lenient_copy = True  # type: ignore[attr-defined]
            cls._lenient_model = cached  # type: ignore[attr-defined]
        return cached

    @classmethod
    def _rules(cls) -> Iterator[tuple[frozenset[str], RuleMethod]]:
        seen: set[str] = set()
        for klass in cls.__mro__:
            for name, member in vars(klass).items():
                fields = getattr(member, "__rule_fields__", None)
                if fields is not None and name not in seen:
                    seen.add(name)
                    yield fields, member

    def _rule_errors(self, invalid: set[str], data: Any) -> list[Any]:
        errors: list[Any] = []
        for fields, method in self._rules():
            if fields & invalid:
                continue
            for problem in method(self):
                key, message = problem if isinstance(problem, tuple) else ((), problem)
                parts = (key,) if isinstance(key, str) else tuple(key)
                loc = (type(self).model_fields[parts[0]].alias or parts[0], *parts[1:]) if parts else ()
                errors.append(
                    {
                        "type": PydanticCustomError(CROSS_FIELD, "{message}", {"message": message}),
                        "loc": loc,
                        "input": data.get(loc[0]) if loc and isinstance(data, dict) else data,
                    }
                )
        return errors


class ComponentConfig(ConfigModel):
    """Every component section can be switched off per stack."""

    enabled: bool = Field(True, description="Build this component in the stack.")


# CloudWatch Logs PutRetentionPolicy accepts exactly these values.
LOG_RETENTION_DAYS: tuple[int, ...] = (
    1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922, 3288, 3653,
)  # fmt: skip


def _retention(value: int) -> int:
    if value not in LOG_RETENTION_DAYS:
        raise ValueError(
            f"{value} is not a CloudWatch Logs retention; allowed: {', '.join(map(str, LOG_RETENTION_DAYS))}"
        )
    return value


def _cidr(value: str) -> str:
    try:
        return str(ipaddress.ip_network(value, strict=True))
    except ValueError as exc:
        raise ValueError(f"{value!r} is not a CIDR block such as 10.0.0.0/16 ({exc})") from None


def cidrs_overlap(first: str, second: str) -> bool:
    """Whether two validated CIDR blocks share any address (equal, nested or partly overlapping)."""
    return ipaddress.ip_network(first).overlaps(ipaddress.ip_network(second))


_REGION = re.compile(r"^[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d$")


def _region(value: str) -> str:
    if not _REGION.match(value):
        raise ValueError(f"{value!r} is not an AWS region name such as eu-west-1")
    return value


_DNS_LABELS = re.compile(r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$")


def _hostname(value: str) -> str:
    if not _DNS_LABELS.match(value):
        raise ValueError(f"{value!r} is not a fully qualified host name such as argocd.example.com")
    return value


def _acm_arn(value: str) -> str:
    if not re.match(r"^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate/[0-9a-f-]{36}$", value):
        raise ValueError(f"{value!r} is not an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<uuid>)")
    return value


# AWS tag values: up to 256 Unicode letters, digits, spaces and _ . : / = + - @
_TAG_VALUE = re.compile(r"^[\w .:/=+\-@]{1,256}$")


def _tag_value(value: str) -> str:
    if not value.strip():
        raise ValueError("a tag value must not be blank")
    if any(unicodedata.category(c).startswith("C") for c in value):
        raise ValueError(f"{value!r} contains control characters (tabs, new lines, ...); AWS tags refuse them")
    if value != value.strip():
        raise ValueError(f"{value!r} starts or ends with spaces; remove them")
    if not _TAG_VALUE.match(value):
        raise ValueError(
            f"{value!r} is not an AWS tag value: up to 256 letters, digits, spaces and the characters _ . : / = + - @"
        )
    return value


LogRetentionDays = Annotated[int, AfterValidator(_retention)]
Cidr = Annotated[str, AfterValidator(_cidr)]
AwsRegion = Annotated[str, AfterValidator(_region)]
Hostname = Annotated[str, AfterValidator(_hostname)]
AcmCertificateArn = Annotated[str, AfterValidator(_acm_arn)]
TagValue = Annotated[str, AfterValidator(_tag_value)]
