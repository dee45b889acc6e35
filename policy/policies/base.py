"""The building blocks every guardrail shares: a plain view of the resource the engine hands a policy,
the policy classes that wrap a pure check function, and helpers for tags, environments, KMS keys and
IAM documents.

Checks are pure functions `check(subject) -> Iterable[str]` (one message per violation). They never
read the engine's proxies directly: `Subject.of(args)` unwraps them once, keeping values that are not
known yet during `pulumi preview` as `UNKNOWN` so each check decides explicitly what an unknown means
(usually: a value computed from another resource of the stack, e.g. a key ARN, which counts as set).
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from pulumi_policy import (
    EnforcementLevel,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    Severity,
    StackValidationArgs,
    StackValidationPolicy,
)
from pulumi_policy.proxy import UNKNOWN_STRING_VALUE, UnknownValueError, _DictProxy, _is_unknown, _ListProxy


class _Unknown:
    """A value the engine does not know yet (preview of a value computed by another resource)."""

    def __repr__(self) -> str:
        return "<unknown during preview>"

    def __bool__(self) -> bool:
        # An unknown is a value that will be set at deployment (like `is_set`); checks that must judge
        # the value itself test `is UNKNOWN` first.
        return True


UNKNOWN: Any = _Unknown()


def plain(value: Any) -> Any:
    """Unwrap the engine's unknown-checking proxies into dicts/lists, with unknowns as UNKNOWN."""
    if isinstance(value, (_DictProxy, _ListProxy)):
        # The proxies raise on reading an unknown; their raw target keeps the sentinel strings.
        value = value["__target"]
    if _is_unknown(value):
        return UNKNOWN
    if isinstance(value, Mapping):
        return {str(k): plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [plain(v) for v in value]
    return value


def get(mapping: Any, *path: str | int, default: Any = None) -> Any:
    """`mapping[path[0]][path[1]]...`, the default when a step is missing, UNKNOWN when a step is unknown."""
    current = mapping
    for step in path:
        if current is UNKNOWN:
            return UNKNOWN
        if isinstance(step, int):
            if not isinstance(current, list) or step >= len(current):
                return default
            current = current[step]
        else:
            if not isinstance(current, Mapping) or step not in current:
                return default
            current = current[step]
    return current


def is_set(value: Any) -> bool:
    """True for UNKNOWN (it will be set at deployment) and for any non-empty value."""
    return value is UNKNOWN or value not in (None, "", [], {})


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    if isinstance(value, list):
        return value
    return [value]


def decode_json(value: Any, what: str) -> Any:
    """Policy documents travel as JSON strings (or objects); UNKNOWN stays UNKNOWN."""
    if value is UNKNOWN or value is None or isinstance(value, Mapping):
        return value
    if isinstance(value, str):
        try:
            return json.loads(value)
        except json.JSONDecodeError as error:
            raise ValueError(f"{what} is not valid JSON: {error}") from None
    raise ValueError(f"{what} has unexpected type {type(value).__name__}")


# ---------------------------------------------------------------------------------------------
# The resource a policy looks at


REQUIRED_TAGS: tuple[str, ...] = ("Environment", "Project", "ManagedBy", "Owner", "CostCenter")
ENVIRONMENTS: tuple[str, ...] = ("dev", "staging", "prod")


@dataclass(frozen=True)
class Subject:
    """One resource as the engine describes it to a policy, unwrapped."""

    type: str
    name: str
    urn: str
    props: Mapping[str, Any]
    protect: bool = False
    parent: str | None = None
    provider_type: str | None = None
    provider_props: Mapping[str, Any] = field(default_factory=dict)

    @classmethod
    def of(cls, args: ResourceValidationArgs) -> Subject:
        provider = args.provider
        return cls(
            type=args.resource_type,
            name=args.name,
            urn=args.urn,
            props=plain(args.props),
            protect=bool(args.opts.protect),
            parent=args.opts.parent,
            provider_type=provider.resource_type if provider is not None else None,
            provider_props=plain(provider.props) if provider is not None else {},
        )

    def get(self, *path: str | int, default: Any = None) -> Any:
        return get(self.props, *path, default=default)

    @property
    def default_tags(self) -> Mapping[str, Any]:
        """Tags the AWS provider adds to every taggable resource (`defaultTags` travels as JSON)."""
        raw = self.provider_props.get("defaultTags")
        if raw is UNKNOWN or raw is None:
            return {}
        document = decode_json(raw, "provider defaultTags")
        tags = get(document, "tags", default={})
        return tags if isinstance(tags, Mapping) else {}

    @property
    def tags(self) -> Mapping[str, Any]:
        """Effective tags: provider default tags overlaid with the resource's own."""
        own = self.props.get("tags")
        return {**self.default_tags, **(own if isinstance(own, Mapping) else {})}

    @property
    def environment(self) -> str | None:
        """The stack's environment class: the `Environment` tag (provider default tags or the resource's
        own); for resources without AWS tags (components, Kubernetes objects) the stack name in the URN
        when it names an environment class. None when it cannot be told."""
        value = self.tags.get("Environment")
        if isinstance(value, str):
            return value
        stack = self.urn.split("::", 1)[0].removeprefix("urn:pulumi:") if self.urn.startswith("urn:pulumi:") else ""
        return stack if stack in ENVIRONMENTS else None

    @property
    def region(self) -> str | None:
        value = self.props.get("region")
        if not isinstance(value, str):
            value = self.provider_props.get("region")
        return value if isinstance(value, str) else None


Check = Callable[[Subject], Iterable[str]]


# ---------------------------------------------------------------------------------------------
# Policies


@dataclass(frozen=True)
class Rule:
    """What a guardrail is, independent of the SDK class that carries it."""

    name: str
    description: str
    remediation: str
    enforcement: EnforcementLevel = EnforcementLevel.MANDATORY
    severity: Severity = Severity.HIGH
    tags: tuple[str, ...] = ()


class Guardrail(ResourceValidationPolicy):
    """A resource policy: `check` runs on every resource whose type is in `types` (all when empty)."""

    def __init__(self, rule: Rule, types: Sequence[str], check: Check) -> None:
        super().__init__(
            rule.name,
            rule.description,
            enforcement_level=rule.enforcement,
            severity=rule.severity,
            tags=list(rule.tags),
            remediation_steps=rule.remediation,
        )
        self.rule = rule
        self.types = frozenset(types)
        self.check = check

    def applies_to(self, resource_type: str) -> bool:
        return not self.types or resource_type in self.types

    def violations(self, subject: Subject) -> list[str]:
        if not self.applies_to(subject.type):
            return []
        return [str(message) for message in self.check(subject)]

    def validate(self, args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not self.applies_to(args.resource_type):
            return
        for message in self.violations(Subject.of(args)):
            report_violation(f"{message}\nRemediation: {self.rule.remediation}", None)


@dataclass(frozen=True)
class StackResource:
    """One resource of the whole stack, for relational checks (e.g. a bucket and its settings)."""

    subject: Subject
    dependencies: tuple[str, ...]


StackCheck = Callable[[Sequence[StackResource]], Iterable[tuple[str, str]]]


class StackGuardrail(StackValidationPolicy):
    """A stack policy: `check` sees every resource and yields `(urn, message)` per violation."""

    def __init__(self, rule: Rule, check: StackCheck) -> None:
        super().__init__(
            rule.name,
            rule.description,
            enforcement_level=rule.enforcement,
            severity=rule.severity,
            tags=list(rule.tags),
            remediation_steps=rule.remediation,
        )
        self.rule = rule
        self.check = check

    def violations(self, resources: Sequence[StackResource]) -> list[tuple[str, str]]:
        return [(urn, str(message)) for urn, message in self.check(resources)]

    def validate(self, args: StackValidationArgs, report_violation: ReportViolation) -> None:
        resources = [
            StackResource(
                Subject(
                    type=r.resource_type,
                    name=r.name,
                    urn=r.urn,
                    props=plain(r.props),
                    protect=bool(r.opts.protect),
                    parent=r.opts.parent,
                    provider_type=r.provider.resource_type if r.provider is not None else None,
                    provider_props=plain(r.provider.props) if r.provider is not None else {},
                ),
                tuple(d.urn for d in r.dependencies),
            )
            for r in args.resources
        ]
        for urn, message in self.violations(resources):
            report_violation(f"{message}\nRemediation: {self.rule.remediation}", urn)


def cannot_tell(subject: Subject, what: str) -> UnknownValueError:
    """What a check raises when the value it must judge is unknown until deployment.

    The engine turns it into an advisory "can't run policy during preview"; `pulumi up` re-runs the
    policy with the value known, before the resource is created.
    """
    return UnknownValueError(UNKNOWN_STRING_VALUE, [subject.name, what])


# ---------------------------------------------------------------------------------------------
# KMS keys

AWS_MANAGED_KEY_ALIASES = ("alias/aws/",)


def customer_key_problem(value: Any, service: str) -> str | None:
    """Why a KMS key reference is not a customer-managed key (None when it is or will be one)."""
    if value is UNKNOWN:
        return None  # computed from a key of this stack
    if not isinstance(value, str) or not value:
        return f"no KMS key is set, so {service} uses an AWS owned or AWS managed key"
    if value.startswith(AWS_MANAGED_KEY_ALIASES) or ":alias/aws/" in value:
        return f"KMS key {value!r} is an AWS managed key; use the stack's customer-managed key"
    return None


# ---------------------------------------------------------------------------------------------
# IAM documents


@dataclass(frozen=True)
class PolicyStatement:
    """One statement of an IAM document, normalised: actions/resources as lists."""

    effect: str
    actions: tuple[str, ...]
    not_actions: tuple[str, ...]
    resources: tuple[Any, ...]
    principal: Any
    condition: Mapping[str, Any]
    sid: str

    @property
    def allows(self) -> bool:
        return self.effect == "Allow"

    @property
    def label(self) -> str:
        return f"statement {self.sid!r}" if self.sid else "a statement"


def statements(document: Any) -> Iterator[PolicyStatement]:
    """The statements of a decoded IAM document (a single statement may be an object)."""
    if not isinstance(document, Mapping):
        return
    for raw in as_list(document.get("Statement")):
        if not isinstance(raw, Mapping):
            continue
        yield PolicyStatement(
            effect=str(raw.get("Effect", "")),
            actions=tuple(str(a) for a in as_list(raw.get("Action"))),
            not_actions=tuple(str(a) for a in as_list(raw.get("NotAction"))),
            resources=tuple(as_list(raw.get("Resource"))),
            principal=raw.get("Principal"),
            condition=raw.get("Condition") or {},
            sid=str(raw.get("Sid", "")),
        )


def is_wildcard_action(action: str) -> bool:
    """`*` or `service:*`; `kms:GenerateDataKey*`-style families are named actions and allowed."""
    service, _, verb = action.partition(":")
    return action == "*" or verb == "*" or (not verb and service != "")


def principal_values(principal: Any, kind: str) -> list[Any]:
    """Values of one principal kind (`AWS`, `Service`, `Federated`); `"*"` counts as every kind."""
    if principal == "*":
        return ["*"]
    if isinstance(principal, Mapping):
        return as_list(principal.get(kind))
    return []
