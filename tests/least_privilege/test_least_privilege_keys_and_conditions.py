"""(3) Key policies allow every principal that uses each key, and (5) every condition the program
writes for a service principal is one that service sends (tests/least_privilege/conditions.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest

from offline.iam_eval import as_list, statements
from tests.least_privilege.conditions import SERVICE_USES, unbacked_keys
from tests.least_privilege.conftest import SHIPPED_STACKS
from tests.least_privilege.grants import deployed_settings, function_verdicts
from tests.least_privilege.key_policies import key_policy_failures, role_key_uses, service_key_uses
from tests.least_privilege.plan_model import PermissionModel
from tests.least_privilege.service_roles import service_verdicts

# One xdist worker runs them all: they share the session plans of every stack and one recording.
pytestmark = pytest.mark.xdist_group(name="least_privilege")


def _key_failures(stack, permission_models, recording) -> list[str]:
    model = permission_models[stack]
    verdicts = list(function_verdicts(model, recording.calls, deployed_settings(permission_models.values())).values())
    verdicts += service_verdicts(model, recording.glue)
    return key_policy_failures(model, [*role_key_uses(model, verdicts), *service_key_uses(model)])


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_least_privilege_key_policies_allow_every_user(stack, permission_models, recording) -> None:
    failures = _key_failures(stack, permission_models, recording)
    assert not failures, "key uses the key policy refuses:\n" + "\n".join(failures)


def _service_conditions(model: PermissionModel) -> Iterator[tuple[str, str, str, str]]:
    """(use, service principal, condition key, where) for every condition written for a service."""
    documents: list[tuple[str, str, object]] = [(r.name, "trust", r.trust) for r in model.roles.values()]
    documents += [(arn, "kms", policy) for arn, policy in model.keys.items()]
    for kind, use in (
        ("aws:sns/topicPolicy:TopicPolicy", "sns"),
        ("aws:sqs/queuePolicy:QueuePolicy", "sqs"),
        ("aws:s3/bucketPolicy:BucketPolicy", "s3"),
    ):
        documents += [(r.name, use, r.inputs["policy"]) for r in model.resources(kind)]
    for where, use, document in documents:
        document = json.loads(document) if isinstance(document, str) else document
        for statement in statements(document):
            principal = statement.get("Principal")
            services = as_list(principal.get("Service")) if isinstance(principal, dict) else []
            keys = [k for pairs in (statement.get("Condition") or {}).values() for k in pairs]
            for service in services:
                for key in keys:
                    yield use, service, key, f"{where} [{statement.get('Sid', '')}]"


@pytest.mark.parametrize("stack", SHIPPED_STACKS)
def test_least_privilege_conditions_are_ones_the_service_sends(stack, permission_models) -> None:
    problems = []
    for use, service, key, where in _service_conditions(permission_models[stack]):
        if unbacked_keys(service, use, [key]):
            links = sorted({row.link for row in SERVICE_USES if row.matches(service, use)}) or ["(no row)"]
            problems.append(f"{where}: {service} ({use}) is not documented to send {key}; see {links}")
    assert not problems, "conditions on keys the service does not send (the statement never matches):\n" + "\n".join(
        problems
    )


def test_least_privilege_condition_table_rows_link_aws_docs() -> None:
    assert all(row.link.startswith("https://docs.aws.amazon.com/") for row in SERVICE_USES)
    assert len({(r.principal, r.use, r.via) for r in SERVICE_USES}) == len(SERVICE_USES)
