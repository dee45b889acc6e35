"""The platform's guardrails: resource policies and stack policies, importable without starting a pack."""

from __future__ import annotations

from pulumi_policy import EnforcementLevel

from . import compute, data, identity, platform, storage
from .base import Guardrail, StackGuardrail

RESOURCE_POLICIES: list[Guardrail] = [
    *storage.POLICIES,
    *data.POLICIES,
    *identity.POLICIES,
    *compute.POLICIES,
    *platform.POLICIES,
]
STACK_POLICIES: list[StackGuardrail] = [*storage.STACK_POLICIES, *compute.STACK_POLICIES]
ALL_POLICIES: list[Guardrail | StackGuardrail] = [*RESOURCE_POLICIES, *STACK_POLICIES]
POLICY_NAMES: tuple[str, ...] = tuple(p.name for p in ALL_POLICIES)

if len(set(POLICY_NAMES)) != len(POLICY_NAMES):
    raise ImportError(f"policy names must be unique: {sorted(POLICY_NAMES)}")


def is_mandatory(policy: Guardrail | StackGuardrail) -> bool:
    return policy.enforcement_level == EnforcementLevel.MANDATORY


__all__ = ["ALL_POLICIES", "POLICY_NAMES", "RESOURCE_POLICIES", "STACK_POLICIES", "is_mandatory"]
