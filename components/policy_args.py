"""The `policy` section of the stack configuration: written waivers of guardrails for named resources.

A waiver never switches a guardrail off for a whole stack: it names the policy, the exact logical
resource names (as `make plan` prints them) and the reason, and every plan prints it.

    platform:policy:
      waivers:
        - policy: eks-public-endpoint-restricted
          resources: [eks-cluster]
          reason: "Operators reach the API from the office until the VPN lands (PLAT-123, due 2026-03-01)."
"""

from __future__ import annotations

import re

from pydantic import Field, field_validator

from components.config_types import ConfigModel, RuleProblem, rule

_POLICY_NAME = r"^[a-z0-9]+(-[a-z0-9]+)*$"
_WILDCARD = re.compile(r"[*?\[\]]")


class PolicyWaiver(ConfigModel):
    """One accepted violation: which guardrail, on which resources, and why."""

    policy: str = Field(pattern=_POLICY_NAME, description="Name of the guardrail waived, as `make plan` prints it.")
    resources: list[str] = Field(
        min_length=1, description="Logical names of the resources the waiver covers, as `make plan` prints them."
    )
    reason: str = Field(
        min_length=20, description="Why the violation is accepted (ticket, owner, end date); printed by every plan."
    )

    @field_validator("resources")
    @classmethod
    def _named_resources_only(cls, resources: list[str]) -> list[str]:
        for name in resources:
            if not name.strip() or _WILDCARD.search(name):
                raise ValueError(f"{name!r} is not a resource name; waivers name each resource exactly, no wildcards")
        if len(set(resources)) != len(resources):
            raise ValueError(f"{resources} lists a resource twice")
        return resources


class PolicyArgs(ConfigModel):
    """Guardrail settings of a stack."""

    waivers: list[PolicyWaiver] = Field(
        default_factory=list, description="Written waivers of guardrails for named resources (see policy/README)."
    )

    @rule("waivers")
    def _one_waiver_per_resource(self) -> list[RuleProblem]:
        seen: dict[tuple[str, str], int] = {}
        for index, waiver in enumerate(self.waivers):
            for resource in waiver.resources:
                first = seen.setdefault((waiver.policy, resource), index)
                if first != index:
                    return [
                        f"waivers[{first}] and waivers[{index}] both waive policy {waiver.policy!r} for resource "
                        f"{resource!r}; keep one waiver with one reason"
                    ]
        return []
