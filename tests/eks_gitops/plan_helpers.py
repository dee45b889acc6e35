"""Helpers for the EksGitOpsCluster tests: find the component's resources in a recorded plan."""

from __future__ import annotations

import json
from typing import Any

from pulumi.runtime import rpc

from offline.mocks import RecordedResource
from offline.runner import PlanGraph

COMPONENT_TYPE = "platform:index:EksGitOpsCluster"
SECRET_SIG = rpc._special_sig_key  # the SDK's marker of a secret envelope


def reveal(value: Any) -> Any:
    """Unwrap Pulumi secret envelopes, recursively, as recorded by the mock monitor."""
    if isinstance(value, dict):
        if SECRET_SIG in value and "value" in value:
            return reveal(value["value"])
        return {k: reveal(v) for k, v in value.items()}
    if isinstance(value, list):
        return [reveal(v) for v in value]
    return value


def is_secret(value: Any) -> bool:
    return isinstance(value, dict) and SECRET_SIG in value


def eks_resources(plan: PlanGraph) -> list[RecordedResource]:
    component = plan.one(COMPONENT_TYPE)
    return plan.descendants(component)


def custom_resource(plan: PlanGraph, kind: str, name: str) -> dict[str, Any]:
    """The recorded object (apiVersion, kind, metadata, spec) of one Kubernetes custom resource."""
    found = [
        r for r in plan.resources if r.type.endswith(f":{kind}") and (r.name == name or r.name.endswith(f"-{name}"))
    ]
    assert len(found) == 1, f"expected one {kind} {name}, found {[r.name for r in found]}"
    return reveal(found[0].inputs)


def release_values(plan: PlanGraph, name: str) -> dict[str, Any]:
    return reveal(plan.one("kubernetes:helm.sh/v3:Release", name).inputs["values"])


def policy(resource: RecordedResource, key: str = "policy") -> dict[str, Any]:
    return json.loads(resource.inputs[key])
