"""Waivers: a stack's written exceptions (`platform:policy` config) applied to the guardrails.

`make plan` applies them itself (offline/policy_run.py) so it can print each one; the pack that
`pulumi preview --policy-pack policy` runs wraps every guardrail with `with_waivers`, reading the same
section from the stack configuration the engine hands to policy packs.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

import pulumi
from pulumi_policy import (
    Policy,
    ReportViolation,
    ResourceValidationArgs,
    ResourceValidationPolicy,
    StackValidationArgs,
    StackValidationPolicy,
)

from components.policy_args import PolicyArgs, PolicyWaiver

from .base import Guardrail, StackGuardrail

CONFIG_KEY = "policy"


class Waivers:
    """The waivers of one stack, looked up by policy and logical resource name."""

    def __init__(self, args: PolicyArgs) -> None:
        self.args = args
        self._index = {(w.policy, r): w for w in args.waivers for r in w.resources}

    @classmethod
    def from_config(cls, raw: Mapping[str, Any] | None) -> Waivers:
        """From the `policy` section as written in the stack file (None when the stack has none)."""
        return cls(PolicyArgs.model_validate(raw or {}))

    def __iter__(self) -> Iterable[PolicyWaiver]:
        return iter(self.args.waivers)

    def covering(self, policy: str, resource_name: str) -> PolicyWaiver | None:
        return self._index.get((policy, resource_name))

    def unknown_policies(self, known: Iterable[str]) -> list[str]:
        names = set(known)
        return sorted({w.policy for w in self.args.waivers} - names)


def urn_name(urn: str) -> str:
    """The logical name at the end of a URN."""
    return urn.rsplit("::", 1)[-1]


def engine_waivers() -> Waivers:
    """The waivers of the stack being previewed, from the config the engine passes to policy packs."""
    project = os.environ.get("PULUMI_PROJECT")
    if not project:
        return Waivers(PolicyArgs())
    return Waivers.from_config(pulumi.Config(project).get_object(CONFIG_KEY))


def _metadata(inner: Policy) -> dict[str, Any]:
    return {
        "enforcement_level": inner.enforcement_level,
        "severity": inner.severity,
        "tags": inner.tags,
        "remediation_steps": inner.remediation_steps,
    }


class _WaivedGuardrail(ResourceValidationPolicy):
    def __init__(self, inner: Guardrail, load: Callable[[], Waivers]) -> None:
        super().__init__(inner.name, inner.description, **_metadata(inner))
        self._inner, self._load = inner, load

    def validate(self, args: ResourceValidationArgs, report_violation: ReportViolation) -> None:
        if not self._inner.applies_to(args.resource_type) or self._load().covering(self.name, args.name):
            return
        self._inner.validate(args, report_violation)


class _WaivedStackGuardrail(StackValidationPolicy):
    def __init__(self, inner: StackGuardrail, load: Callable[[], Waivers]) -> None:
        super().__init__(inner.name, inner.description, **_metadata(inner))
        self._inner, self._load = inner, load

    def validate(self, args: StackValidationArgs, report_violation: ReportViolation) -> None:
        waivers = self._load()

        def report_unless_waived(message: str, urn: str | None = None) -> None:
            if urn and waivers.covering(self.name, urn_name(urn)):
                return
            report_violation(message, urn)

        self._inner.validate(args, report_unless_waived)


def with_waivers(policies: Sequence[Policy], load: Callable[[], Waivers] = engine_waivers) -> list[Policy]:
    """The pack's policies, each skipping the resources its stack waives."""
    wrapped: list[Policy] = []
    for policy in policies:
        if isinstance(policy, Guardrail):
            wrapped.append(_WaivedGuardrail(policy, load))
        elif isinstance(policy, StackGuardrail):
            wrapped.append(_WaivedStackGuardrail(policy, load))
        else:
            raise TypeError(f"{policy.name}: not a Guardrail or StackGuardrail")
    return wrapped
