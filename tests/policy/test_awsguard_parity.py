"""The AWSGuard parity table in policy/README.md is current, and every coverage it claims is real."""

from __future__ import annotations

import pytest

from offline.awsguard_parity import END, README, START, render_table
from offline.checkov_plan import CheckovReport
from policy.awsguard import AWSGUARD_RULES
from policy.policies import ALL_POLICIES
from tests.policy.conftest import shipped_plans


def test_the_table_in_the_readme_is_current(request: pytest.FixtureRequest) -> None:
    readme = README.read_text()
    section = readme[readme.index(START) : readme.index(END) + len(END)]
    expected = "\n".join(render_table(list(shipped_plans(request))))
    assert section == expected, "stale: run `python -m offline.awsguard_parity --write`"


def test_rule_names_are_unique_and_every_rule_says_what_it_judges() -> None:
    names = [rule.name for rule in AWSGUARD_RULES]
    assert len(names) == len(set(names))
    assert all(rule.types and all(t.startswith("aws:") for t in rule.types) for rule in AWSGUARD_RULES)


def test_every_rule_on_a_declared_type_is_enforced_or_says_why_not(request: pytest.FixtureRequest) -> None:
    declared = {r.type for plan in shipped_plans(request) for r in plan.resources}
    for rule in AWSGUARD_RULES:
        if declared & set(rule.types):
            assert rule.pack or rule.checkov or len(rule.gap) >= 40, rule.name


def test_named_pack_policies_exist() -> None:
    policies = {p.name for p in ALL_POLICIES}
    assert [(r.name, p) for r in AWSGUARD_RULES for p in r.pack if p not in policies] == []


def test_named_checkov_checks_judge_resources_of_the_shipped_stacks(checkov_reports: dict[str, CheckovReport]) -> None:
    judged = {
        f.check
        for report in checkov_reports.values()
        for f in [*report.passed, *report.failed, *(f for f, _ in report.skipped)]
    }
    assert sorted(c for r in AWSGUARD_RULES for c in r.checkov if c not in judged) == []


def test_the_conflict_rules_stay_moot_while_they_are_gaps(request: pytest.FixtureRequest) -> None:
    """The two gaps hold because nothing can conflict: no security group of ours has both inline rules and
    separate rule resources, and no role has inline policies beside its attached ones."""
    separate_rules = {
        "aws:ec2/securityGroupRule:SecurityGroupRule",
        "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule",
        "aws:vpc/securityGroupEgressRule:SecurityGroupEgressRule",
    }
    for plan in shipped_plans(request):
        with_inline = {
            r.id
            for r in plan.of_type("aws:ec2/securityGroup:SecurityGroup")
            if r.inputs.get("ingress") or r.inputs.get("egress")
        }
        ruled = {r.inputs.get("securityGroupId") for r in plan.resources if r.type in separate_rules}
        assert not with_inline & ruled, plan.stack
        inline = [
            r.name
            for r in plan.of_type("aws:iam/role:Role")
            if r.inputs.get("inlinePolicies") or r.inputs.get("managedPolicyArns")
        ]
        assert inline == [], plan.stack
