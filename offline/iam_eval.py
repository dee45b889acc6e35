"""IAM policy evaluation as AWS documents it, for checking recorded requests against written policies.

Covers what our policies use: Allow/Deny (an explicit Deny wins, otherwise any Allow, otherwise the
implicit deny), Action/NotAction (case-insensitive), Resource/NotResource, `*` and `?` wildcards,
Principal/NotPrincipal for resource policies (key policies), and the condition operators of the
string, ARN, numeric, Bool and Null families with `IfExists` and the `ForAnyValue:`/`ForAllValues:`
set qualifiers. A condition key missing from the request makes a positive operator false and a
negated one true (IfExists turns a missing key into true), as in
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html

moto's `IAMPolicy` (moto/iam/access_control.py) agrees with this on statements without conditions;
tests/least_privilege checks that agreement. It is not used here because it only knows StringEquals,
treats a failed condition on an Allow as an explicit Deny and matches actions case-sensitively.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import Enum
from functools import lru_cache
from typing import Any

ContextValue = str | Sequence[str]


class Decision(Enum):
    ALLOWED = "allowed"
    IMPLICIT_DENY = "implicit deny"
    EXPLICIT_DENY = "explicit deny"


@dataclass(frozen=True)
class Request:
    """One authorisation question: may `principal` do `action` on `resource` with this context?"""

    action: str
    resource: str
    context: Mapping[str, ContextValue] = field(default_factory=dict)
    # For resource policies: an IAM ARN (role, root) or a service principal (`logs.eu-west-1.amazonaws.com`).
    principal: str = ""

    def describe(self) -> str:
        context = f" with {dict(self.context)}" if self.context else ""
        return f"{self.action} on {self.resource}{context}"


def as_list(value: Any) -> list[Any]:
    if value is None:
        return []
    return list(value) if isinstance(value, (list, tuple)) else [value]


def statements(document: Mapping[str, Any] | str) -> list[Mapping[str, Any]]:
    doc = json.loads(document) if isinstance(document, str) else document
    return as_list(doc.get("Statement"))


@lru_cache(maxsize=4096)
def _wildcard(pattern: str, case_sensitive: bool) -> re.Pattern[str]:
    # IAM knows only `*` and `?`: everything else, `[` and `.` included, is literal.
    regex = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in pattern)
    return re.compile(f"^{regex}$", 0 if case_sensitive else re.IGNORECASE | re.DOTALL)


def wildcard_match(pattern: str, value: str, *, case_sensitive: bool = True) -> bool:
    return bool(_wildcard(pattern, case_sensitive).match(value))


def action_matches(patterns: Iterable[str], action: str) -> bool:
    return any(wildcard_match(p, action, case_sensitive=False) for p in patterns)


def _account_of(arn: str) -> str:
    parts = arn.split(":")
    return parts[4] if len(parts) > 5 else ""


def principal_matches(principal_element: Any, principal: str) -> bool:
    """Does a statement's Principal name this caller? An account (or its root) names every IAM
    principal of that account; the caller's own identity policy must then allow too (see
    `allowed_with_identity`), which this function does not decide."""
    if principal_element == "*":
        return True
    if not isinstance(principal_element, Mapping):
        return False
    for kind, values in principal_element.items():
        for value in as_list(values):
            if value == "*":
                return True
            if kind == "Service" and value == principal:
                return True
            if kind == "AWS":
                if value == principal:
                    return True
                root = value if value.startswith("arn:") else f"arn:aws:iam::{value}:root"
                if (
                    root.endswith(":root")
                    and principal.startswith("arn:")
                    and _account_of(root) == _account_of(principal)
                ):
                    return True
    return False


def _context_lookup(context: Mapping[str, ContextValue], key: str) -> list[str] | None:
    wanted = key.lower()
    for name, value in context.items():
        if name.lower() == wanted:
            return [str(v) for v in as_list(value)]
    return None


def _compare(base: str, expected: str, actual: str) -> bool:
    if base in ("StringEquals", "ArnEquals"):
        return actual == expected if base == "StringEquals" else wildcard_match(expected, actual)
    if base == "StringEqualsIgnoreCase":
        return actual.lower() == expected.lower()
    if base in ("StringLike", "ArnLike"):
        return wildcard_match(expected, actual)
    if base.startswith("Numeric"):
        a, e = float(actual), float(expected)
        return {
            "NumericEquals": a == e,
            "NumericLessThan": a < e,
            "NumericLessThanEquals": a <= e,
            "NumericGreaterThan": a > e,
            "NumericGreaterThanEquals": a >= e,
        }[base]
    if base == "Bool":
        return actual.lower() == expected.lower()
    raise ValueError(f"condition operator {base!r} is not supported by offline/iam_eval.py")


_NEGATED = {
    "StringNotEquals": "StringEquals",
    "StringNotEqualsIgnoreCase": "StringEqualsIgnoreCase",
    "StringNotLike": "StringLike",
    "ArnNotEquals": "ArnEquals",
    "ArnNotLike": "ArnLike",
    "NumericNotEquals": "NumericEquals",
}


def condition_holds(operator: str, key: str, expected: Any, context: Mapping[str, ContextValue]) -> bool:
    qualifier, _, op = operator.rpartition(":")
    if_exists = op.endswith("IfExists")
    op = op.removesuffix("IfExists")
    expected_values = [str(v).lower() if isinstance(v, bool) else str(v) for v in as_list(expected)]
    actual = _context_lookup(context, key)
    if op == "Null":
        return (actual is None) == (expected_values[0].lower() == "true")
    negated = op in _NEGATED
    base = _NEGATED.get(op, op)
    if actual is None:
        if if_exists:
            return True
        return qualifier == "ForAllValues" or negated

    def one(value: str) -> bool:
        hit = any(_compare(base, e, value) for e in expected_values)
        return not hit if negated else hit

    if qualifier == "ForAllValues":
        return all(one(v) for v in actual)
    # Single-valued keys and ForAnyValue: some value satisfies the operator.
    return any(one(v) for v in actual)


def conditions_hold(conditions: Mapping[str, Mapping[str, Any]] | None, context: Mapping[str, ContextValue]) -> bool:
    return all(
        condition_holds(operator, key, expected, context)
        for operator, pairs in (conditions or {}).items()
        for key, expected in pairs.items()
    )


def statement_applies(statement: Mapping[str, Any], request: Request, *, resource_policy: bool = False) -> bool:
    """Everything but the Effect: action, resource, principal (resource policies) and conditions."""
    if "NotAction" in statement:
        if action_matches(as_list(statement["NotAction"]), request.action):
            return False
    elif not action_matches(as_list(statement.get("Action")), request.action):
        return False
    if "NotResource" in statement:
        if any(wildcard_match(p, request.resource) for p in as_list(statement["NotResource"])):
            return False
    elif "Resource" in statement:
        if not any(wildcard_match(p, request.resource) for p in as_list(statement["Resource"])):
            return False
    elif not resource_policy:
        return False
    if resource_policy:
        if "NotPrincipal" in statement:
            if principal_matches(statement["NotPrincipal"], request.principal):
                return False
        elif not principal_matches(statement.get("Principal"), request.principal):
            return False
    return conditions_hold(statement.get("Condition"), request.context)


def evaluate(
    documents: Iterable[Mapping[str, Any] | str], request: Request, *, resource_policy: bool = False
) -> Decision:
    allowed = False
    for document in documents:
        for statement in statements(document):
            if statement_applies(statement, request, resource_policy=resource_policy):
                if statement.get("Effect") == "Deny":
                    return Decision.EXPLICIT_DENY
                allowed = True
    return Decision.ALLOWED if allowed else Decision.IMPLICIT_DENY


def key_policy_allows(
    key_policy: Mapping[str, Any] | str,
    request: Request,
    identity_documents: Sequence[Mapping[str, Any] | str] | None = (),
) -> Decision:
    """KMS: the key policy must allow the principal itself, or allow the account (which delegates to the
    principal's IAM policies, which must then allow too; `identity_documents=None` stops at the key
    policy). https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html#key-policy-default-allow-root-enable-iam
    """
    direct, delegated = False, False
    for statement in statements(key_policy):
        if not statement_applies(statement, request, resource_policy=True):
            continue
        if statement.get("Effect") == "Deny":
            return Decision.EXPLICIT_DENY
        if _names_principal_directly(statement.get("Principal"), request.principal):
            direct = True
        else:
            delegated = True
    if direct:
        return Decision.ALLOWED
    if delegated and request.principal.startswith("arn:"):
        return Decision.ALLOWED if identity_documents is None else evaluate(identity_documents, request)
    return Decision.IMPLICIT_DENY


def _names_principal_directly(principal_element: Any, principal: str) -> bool:
    if principal_element == "*":
        return True
    if not isinstance(principal_element, Mapping):
        return False
    return any(v == principal or v == "*" for values in principal_element.values() for v in as_list(values))


__all__ = [
    "Decision",
    "Request",
    "action_matches",
    "as_list",
    "evaluate",
    "key_policy_allows",
    "statement_applies",
    "statements",
    "wildcard_match",
]
