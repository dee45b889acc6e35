"""The offline evaluation: engine-shaped arguments, waivers, and the report `make plan` prints."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
from pulumi_policy import EnforcementLevel

from offline.policy_run import PolicyConfigError, evaluate, render, resource_args, waivers_of
from offline.runner import PlanGraph
from policy.policies import ALL_POLICIES, RESOURCE_POLICIES, STACK_POLICIES
from policy.policies.waivers import Waivers
from tests.policy.conftest import mutated, set_path

# Pulumi's marker of a secret value in serialized properties (not a credential).
SECRET_SIGNATURE = "4dabf18193072939515e22adb298388d"  # pragma: allowlist secret


def test_the_pack_has_at_least_25_documented_resource_policies() -> None:
    assert len(RESOURCE_POLICIES) >= 25 and STACK_POLICIES
    for policy in ALL_POLICIES:
        assert policy.description.endswith(".") and len(policy.description) > 30, policy.name
        assert policy.remediation_steps and len(policy.remediation_steps) > 30, policy.name
        assert policy.enforcement_level == EnforcementLevel.MANDATORY, policy.name


def test_arguments_are_shaped_like_the_engine_sends_them(baseline: PlanGraph) -> None:
    function = next(r for r in baseline.resources if r.name == "guard-worker-function")
    args = resource_args(baseline, function)
    assert args.resource_type == "aws:lambda/function:Function" and args.name == "guard-worker-function"
    assert args.urn == function.urn and args.opts.parent == function.parent and args.opts.protect is False
    assert args.props["timeout"] == 30.0 and isinstance(args.props["timeout"], float)  # through a protobuf Struct
    assert args.props["loggingConfig"]["logFormat"] == "JSON"
    assert args.provider.name == "aws-primary" and args.provider.props["region"] == "us-east-1"
    assert '"CostCenter"' in args.provider.props["defaultTags"]  # provider inputs: defaultTags as JSON


def test_secret_inputs_reach_the_policy_unwrapped(baseline: PlanGraph) -> None:
    token = next(r for r in baseline.resources if r.name == "guard-params-token")
    assert SECRET_SIGNATURE in token.inputs["value"]  # recorded as a secret
    assert resource_args(baseline, token).props["value"] == "t0"


def test_violations_are_printed_per_resource_with_the_remediation(baseline: PlanGraph) -> None:
    table = next(r for r in baseline.resources if r.name == "guard-table")
    graph = mutated(baseline, table, set_path("pointInTimeRecovery.enabled", False), protect=False)
    report = evaluate(graph)
    assert {(v.policy, v.resource_name) for v in report.mandatory} == {
        ("dynamodb-point-in-time-recovery", "guard-table"),
        ("stateful-protected-in-prod", "guard-table"),
    }
    text = "\n".join(render(report))
    assert "  aws:dynamodb/table:Table guard-table\n    [mandatory] dynamodb-point-in-time-recovery\n" in text
    assert "      - point-in-time recovery is off\n      remediation: Set point_in_time_recovery=" in text


WAIVER = {
    "policy": "dynamodb-point-in-time-recovery",
    "resources": ["guard-table", "gone-table"],
    "reason": "Scratch table rebuilt from the stream every night (PLAT-42, until 2026-06-30).",
}


def test_a_waiver_sets_a_violation_aside_and_is_printed(baseline: PlanGraph) -> None:
    table = next(r for r in baseline.resources if r.name == "guard-table")
    graph = mutated(baseline, table, set_path("pointInTimeRecovery.enabled", False))
    report = evaluate(graph, waivers_of({"platform:policy": {"waivers": [WAIVER]}}))
    assert report.violations == []
    assert [(v.policy, v.resource_name, w.reason) for v, w in report.waived] == [
        ("dynamodb-point-in-time-recovery", "guard-table", WAIVER["reason"])
    ]
    assert [(p, r) for p, r, _ in report.unused_waivers] == [("dynamodb-point-in-time-recovery", "gone-table")]
    text = "\n".join(render(report))
    assert f"waived dynamodb-point-in-time-recovery on aws:dynamodb/table:Table guard-table: {WAIVER['reason']}" in text
    assert "unused waiver of dynamodb-point-in-time-recovery for 'gone-table'" in text


def test_a_waiver_covers_only_its_policy_and_resources(baseline: PlanGraph) -> None:
    table = next(r for r in baseline.resources if r.name == "guard-table")
    graph = mutated(baseline, table, set_path("pointInTimeRecovery.enabled", False), protect=False)
    report = evaluate(graph, Waivers.from_config({"waivers": [WAIVER]}))
    assert [(v.policy, v.resource_name) for v in report.violations] == [("stateful-protected-in-prod", "guard-table")]


def test_a_waiver_of_an_unknown_policy_is_an_error(baseline: PlanGraph) -> None:
    waivers = Waivers.from_config({"waivers": [{**WAIVER, "policy": "dynamodb-pitr"}]})
    with pytest.raises(
        PolicyConfigError, match=re.escape("platform:policy.waivers: no policy named dynamodb-pitr; known: ")
    ):
        evaluate(baseline, waivers)


def test_the_policy_readme_lists_exactly_the_pack() -> None:
    readme = (Path(__file__).resolve().parents[2] / "policy" / "README.md").read_text()
    listed = re.findall(r"^\| `([a-z0-9-]+)` \|", readme, flags=re.MULTILINE)
    assert listed == [p.name for p in ALL_POLICIES]
