"""The real pack, as `pulumi preview --policy-pack policy` starts it: a gRPC analyzer process.

The CLI launches the pack with the Python language host (`python -m pulumi.policy <engine> policy`)
and the stack's configuration in PULUMI_CONFIG, then calls GetAnalyzerInfo and Analyze per resource.
This test does the same, with a recorded resource, so the pack's entry point and waivers are proven
under the analyzer protocol itself.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from google.protobuf import empty_pb2, struct_pb2
from pulumi.runtime.proto import analyzer_pb2, analyzer_pb2_grpc
from pulumi_policy.deserialize import serialize_properties

from offline.mocks import RecordedResource
from offline.runner import PlanGraph
from policy.policies import ALL_POLICIES
from tests.policy.conftest import mutated, set_path

ROOT = Path(__file__).resolve().parents[2]
WAIVED_REASON = "The guard-table-waived scratch table is rebuilt nightly from the stream (PLAT-42)."


def _struct(values: dict) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    struct.update(serialize_properties(values))
    return struct


def _start_pack(config: dict[str, str]) -> tuple[subprocess.Popen, analyzer_pb2_grpc.AnalyzerStub]:
    env = {
        **os.environ,
        "PULUMI_PROJECT": "platform",
        "PULUMI_STACK": "prod",
        "PULUMI_DRY_RUN": "true",
        "PULUMI_CONFIG": json.dumps(config),
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "pulumi.policy", "127.0.0.1:1", str(ROOT / "policy")],
        cwd=ROOT / "policy",
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    line = process.stdout.readline().decode().strip()
    if not line.isdigit():
        process.kill()
        raise AssertionError(f"pack did not start: {line!r} {process.stderr.read().decode()}")
    channel = grpc.insecure_channel(f"127.0.0.1:{line}")
    grpc.channel_ready_future(channel).result(timeout=30)
    return process, analyzer_pb2_grpc.AnalyzerStub(channel)


@pytest.fixture(scope="module")
def pack() -> Iterator[analyzer_pb2_grpc.AnalyzerStub]:
    waivers = {
        "waivers": [
            {"policy": "dynamodb-point-in-time-recovery", "resources": ["guard-table-waived"], "reason": WAIVED_REASON}
        ]
    }
    process, stub = _start_pack({"platform:policy": json.dumps(waivers)})
    yield stub
    process.terminate()
    process.wait(timeout=10)


def _request(graph: PlanGraph, resource: RecordedResource, name: str | None = None) -> analyzer_pb2.AnalyzeRequest:
    provider = graph.by_urn(resource.provider_urn)
    return analyzer_pb2.AnalyzeRequest(
        type=resource.type,
        properties=_struct(resource.inputs),
        urn=resource.urn,
        name=name or resource.name,
        options=analyzer_pb2.AnalyzerResourceOptions(protect=resource.protect, parent=resource.parent),
        provider=analyzer_pb2.AnalyzerProviderResource(
            type=provider.type, properties=_struct(provider.inputs), urn=provider.urn, name=provider.name
        ),
    )


def test_the_pack_describes_every_policy_as_mandatory(pack: analyzer_pb2_grpc.AnalyzerStub) -> None:
    info = pack.GetAnalyzerInfo(empty_pb2.Empty())
    assert info.name == "platform-guardrails"
    assert sorted(p.name for p in info.policies) == sorted(p.name for p in ALL_POLICIES)
    assert {p.enforcementLevel for p in info.policies} == {analyzer_pb2.MANDATORY}
    assert all(p.remediation_steps for p in info.policies)


def test_the_pack_passes_a_compliant_resource_and_reports_a_broken_one(
    pack: analyzer_pb2_grpc.AnalyzerStub, baseline: PlanGraph
) -> None:
    table = next(r for r in baseline.resources if r.name == "guard-table")
    assert list(pack.Analyze(_request(baseline, table)).diagnostics) == []
    broken = mutated(baseline, table, set_path("pointInTimeRecovery.enabled", False))
    table = next(r for r in broken.resources if r.name == "guard-table")
    diagnostics = pack.Analyze(_request(broken, table)).diagnostics
    assert [(d.policyName, d.enforcementLevel) for d in diagnostics] == [
        ("dynamodb-point-in-time-recovery", analyzer_pb2.MANDATORY)
    ]
    assert "point-in-time recovery is off\nRemediation: Set point_in_time_recovery=" in diagnostics[0].message


def test_the_pack_honours_the_stack_waivers(pack: analyzer_pb2_grpc.AnalyzerStub, baseline: PlanGraph) -> None:
    table = next(r for r in baseline.resources if r.name == "guard-table")
    broken = mutated(baseline, table, set_path("pointInTimeRecovery.enabled", False))
    table = next(r for r in broken.resources if r.name == "guard-table")
    assert list(pack.Analyze(_request(broken, table, name="guard-table-waived")).diagnostics) == []
