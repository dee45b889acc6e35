"""Mutation proof: dropping any one needed action from one role of each component makes exactly that
role's check fail. The recorded policy documents are mutated (the component sources are not).

"Needed" is a grant that is the only one allowing some request; a grant whose every use another
statement also allows is reported as redundant by the unused-grants report instead."""

from __future__ import annotations

import copy
from typing import Any

import pytest

from offline.iam_eval import as_list
from tests.least_privilege.conftest import SHIPPED_STACKS
from tests.least_privilege.grants import Verdict, deployed_settings, function_verdicts
from tests.least_privilege.plan_model import PermissionModel
from tests.least_privilege.recorder import Record
from tests.least_privilege.service_roles import service_verdicts

# One xdist worker runs them all: they share the session plans of every stack and one recording.
pytestmark = pytest.mark.xdist_group(name="least_privilege")


COMPONENTS = ["FeatureStorePipeline", "DataLake", "BackupVault", "OrderWorkflow", "EksGitOpsCluster"]


def role_verdicts(model: PermissionModel, record: Record, settings: Any) -> list[Verdict]:
    return list(function_verdicts(model, record.calls, settings).values()) + service_verdicts(model, record.glue)


def failing_roles(verdicts: list[Verdict]) -> set[str]:
    return {v.role.name for v in verdicts if v.failures()}


def without_action(
    documents: list[tuple[str, dict]], d_index: int, s_index: int, action: str
) -> list[tuple[str, dict]]:
    mutated = copy.deepcopy(documents)
    statement = mutated[d_index][1]["Statement"][s_index]
    remaining = [a for a in as_list(statement["Action"]) if a != action]
    if remaining:
        statement["Action"] = remaining
    else:
        del mutated[d_index][1]["Statement"][s_index]
    return mutated


@pytest.mark.parametrize("component", COMPONENTS)
def test_least_privilege_removing_a_needed_action_fails_exactly_that_role(
    component, permission_models, recording
) -> None:
    settings = deployed_settings(permission_models.values())
    stack = next(
        s for s in SHIPPED_STACKS if any(r.component == component for r in permission_models[s].roles.values())
    )
    model = permission_models[stack]
    baseline = role_verdicts(model, recording, settings)
    assert not failing_roles(baseline), "the baseline must pass before mutating it"
    candidates = sorted(
        (v.role.name, grant) for v in baseline if v.role.component == component for grant in sorted(v.necessary)
    )
    assert candidates, f"{component}: no role with a needed grant to mutate"
    role_name = candidates[0][0]
    mutations = [used for name, used in candidates if name == role_name]
    for d_index, s_index, action in mutations:
        documents = without_action(model.roles[role_name].documents, d_index, s_index, action)
        mutated = role_verdicts(model.with_policies(role_name, documents), recording, settings)
        assert failing_roles(mutated) == {role_name}, f"{stack}: without {action} (statement {s_index}) of {role_name}"
