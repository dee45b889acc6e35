"""Run the policy pack over a recorded plan, offline, exactly as `pulumi preview --policy-pack policy` would.

For every recorded resource the engine would call each resource policy with `ResourceValidationArgs`:
the type, the inputs as the provider checked them (camelCase, sent through a protobuf Struct, so numbers
arrive as floats, secrets unwrapped and assets as asset objects, wrapped in the unknown-checking proxy),
the URN, the logical name, the options (protect, parent) and the provider resource with its own inputs
(which carry the default tags). Stack policies get every resource with its planned state and its
dependencies. The stack's waivers (`platform:policy`) are applied here so each one can be printed.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import json_format, struct_pb2
from pulumi_policy import (
    EnforcementLevel,
    PolicyCustomTimeouts,
    PolicyProviderResource,
    PolicyResource,
    PolicyResourceOptions,
    ResourceValidationArgs,
    StackValidationArgs,
)
from pulumi_policy.deserialize import deserialize_properties, serialize_properties
from pulumi_policy.proxy import unknown_checking_proxy

from components.policy_args import PolicyWaiver
from offline.mocks import RecordedResource
from offline.runner import PROJECT, PlanGraph
from policy.policies import ALL_POLICIES, POLICY_NAMES, Guardrail, StackGuardrail
from policy.policies.waivers import CONFIG_KEY, Waivers

PACK_NAME = "platform-guardrails"
REMEDIATION = "\nRemediation: "


class PolicyConfigError(ValueError):
    """The stack's `policy` section cannot be applied (e.g. it waives a policy that does not exist)."""


@dataclass(frozen=True)
class Violation:
    """One violation of one policy by one resource (or by the stack)."""

    policy: str
    enforcement: EnforcementLevel
    resource_type: str
    resource_name: str
    urn: str
    message: str

    @property
    def mandatory(self) -> bool:
        return self.enforcement == EnforcementLevel.MANDATORY


@dataclass
class PolicyReport:
    """What the pack found in one plan, after the stack's waivers."""

    policies: int
    violations: list[Violation] = field(default_factory=list)
    waived: list[tuple[Violation, PolicyWaiver]] = field(default_factory=list)
    unused_waivers: list[tuple[str, str, PolicyWaiver]] = field(default_factory=list)

    @property
    def mandatory(self) -> list[Violation]:
        return [v for v in self.violations if v.mandatory]


# ---------------------------------------------------------------------------------------------
# The arguments the engine builds


def engine_properties(values: Mapping[str, Any]) -> Any:
    """Resource properties as a policy receives them: through a protobuf Struct, then the policy SDK's
    deserializer and unknown-checking proxy (`_PolicyAnalyzerServicer.Analyze`)."""
    struct = struct_pb2.Struct()
    struct.update(serialize_properties(dict(values)))
    return unknown_checking_proxy(deserialize_properties(json_format.MessageToDict(struct)))


def _options(resource: RecordedResource) -> PolicyResourceOptions:
    return PolicyResourceOptions(
        protect=resource.protect,
        ignore_changes=[],
        delete_before_replace=None,
        aliases=[],
        custom_timeouts=PolicyCustomTimeouts(0, 0, 0),
        additional_secret_outputs=[],
        parent=resource.parent or None,
    )


def _provider(graph: PlanGraph, resource: RecordedResource) -> PolicyProviderResource | None:
    """The provider the engine would pass: the explicit one with its inputs, or the package's default."""
    if not resource.custom or resource.type.startswith("pulumi:providers:"):
        return None
    urn = resource.provider_urn
    if urn:
        provider = graph.by_urn(urn)
        return PolicyProviderResource(provider.type, engine_properties(provider.inputs), provider.urn, provider.name)
    package = resource.type.split(":", 1)[0]
    default_urn = f"urn:pulumi:{graph.stack}::{PROJECT}::pulumi:providers:{package}::default"
    return PolicyProviderResource(f"pulumi:providers:{package}", engine_properties({}), default_urn, "default")


def resource_args(graph: PlanGraph, resource: RecordedResource) -> ResourceValidationArgs:
    """`ResourceValidationArgs` for one recorded resource, as the engine builds them."""
    return ResourceValidationArgs(
        resource.type,
        engine_properties(resource.inputs),
        resource.urn,
        resource.name,
        _options(resource),
        _provider(graph, resource),
    )


def stack_args(graph: PlanGraph) -> StackValidationArgs:
    """`StackValidationArgs`: every resource with its planned state, parent and dependencies."""
    by_urn: dict[str, PolicyResource] = {}
    for r in graph.resources:
        # A provider's state echoes the inputs it was given; computed outputs fill in the rest.
        state = {**r.outputs, **r.inputs}
        by_urn[r.urn] = PolicyResource(
            r.type, engine_properties(state), r.urn, r.name, _options(r), _provider(graph, r), None, [], {}
        )
    for r in graph.resources:
        policy_resource = by_urn[r.urn]
        policy_resource.parent = by_urn.get(r.parent)
        policy_resource.dependencies.extend(by_urn[d] for d in r.depends_on if d in by_urn)
    return StackValidationArgs(list(by_urn.values()))


# ---------------------------------------------------------------------------------------------
# Evaluation


def waivers_of(config: Mapping[str, Any]) -> Waivers:
    """The waivers in a stack file's `config:` mapping (`platform:policy`)."""
    raw = config.get(f"{PROJECT}:{CONFIG_KEY}")
    if isinstance(raw, str):
        raw = json.loads(raw)
    return Waivers.from_config(raw)


def evaluate(
    graph: PlanGraph,
    waivers: Waivers | None = None,
    policies: Sequence[Guardrail | StackGuardrail] = ALL_POLICIES,
) -> PolicyReport:
    """Every violation of `policies` in `graph`, with the stack's waivers set aside."""
    waivers = waivers or Waivers.from_config(None)
    unknown = waivers.unknown_policies(POLICY_NAMES)
    if unknown:
        raise PolicyConfigError(
            f"{PROJECT}:{CONFIG_KEY}.waivers: no policy named {', '.join(unknown)}; known: {', '.join(POLICY_NAMES)}"
        )
    found: list[Violation] = []
    for policy in policies:
        if isinstance(policy, Guardrail):
            for resource in graph.resources:
                if policy.applies_to(resource.type):
                    policy.validate(resource_args(graph, resource), _collector(found, policy, graph, resource.urn))
        else:
            policy.validate(stack_args(graph), _collector(found, policy, graph, None))
    return _apply_waivers(len(policies), found, waivers)


def _collector(found: list[Violation], policy: Guardrail | StackGuardrail, graph: PlanGraph, resource_urn: str | None):
    """A `report_violation` callback recording into `found`; resource policies report on their resource."""
    level = policy.enforcement_level or EnforcementLevel.ADVISORY

    def report(message: str, urn: str | None = None) -> None:
        target = resource_urn or urn or ""
        resource = next((r for r in graph.resources if r.urn == target), None)
        resource_type, name = (resource.type, resource.name) if resource else ("stack", graph.stack)
        found.append(Violation(policy.name, level, resource_type, name, target, message))

    return report


def _apply_waivers(policies: int, found: list[Violation], waivers: Waivers) -> PolicyReport:
    report = PolicyReport(policies=policies)
    used: set[tuple[str, str]] = set()
    for violation in found:
        waiver = waivers.covering(violation.policy, violation.resource_name)
        if waiver is None:
            report.violations.append(violation)
        else:
            report.waived.append((violation, waiver))
            used.add((violation.policy, violation.resource_name))
    for waiver in waivers:
        for resource in waiver.resources:
            if (waiver.policy, resource) not in used:
                report.unused_waivers.append((waiver.policy, resource, waiver))
    return report


# ---------------------------------------------------------------------------------------------
# Output


def _indented(text: str, prefix: str) -> list[str]:
    return [f"{prefix}{line}" for line in text.splitlines()]


def render(report: PolicyReport) -> list[str]:
    """Violations per resource with their remediation, then every waiver."""
    lines = [f"Policy pack {PACK_NAME} ({report.policies} policies):"]
    if not report.violations:
        lines.append("  no violations")
    by_resource: dict[tuple[str, str], list[Violation]] = {}
    for violation in report.violations:
        by_resource.setdefault((violation.resource_type, violation.resource_name), []).append(violation)
    for (resource_type, name), violations in sorted(by_resource.items()):
        lines.append(f"  {resource_type} {name}")
        by_policy: dict[tuple[str, str], list[str]] = {}
        for v in violations:
            text, _, remediation = v.message.partition(REMEDIATION)
            by_policy.setdefault((f"[{v.enforcement.value}] {v.policy}", remediation), []).append(text)
        for (heading, remediation), texts in by_policy.items():
            lines.append(f"    {heading}")
            for text in texts:
                lines.extend(_indented(f"- {text}", "      "))
            if remediation:
                lines.append(f"      remediation: {remediation}")
    if report.waived or report.unused_waivers:
        lines.append("Waivers:")
    for violation, waiver in report.waived:
        where = f"{violation.resource_type} {violation.resource_name}"
        lines.append(f"  waived {violation.policy} on {where}: {waiver.reason}")
        lines.extend(_indented(violation.message.partition(REMEDIATION)[0], "      "))
    for policy, resource, waiver in report.unused_waivers:
        lines.append(f"  unused waiver of {policy} for {resource!r} (matches no violation; remove it): {waiver.reason}")
    return lines
