"""checkov's own AWS checks over a stack's plan: `make plan` and the tests run this after the policy pack.

The recorded plan becomes a Terraform plan JSON (offline/terraform_plan.py) and checkov's
`terraform_plan` framework judges it, graph checks included. A failed check is acceptable only where
`policy/checkov-skips.yaml` names the check, the resource (its logical name, as `make plan` prints it)
and the reason. checkov runs in its own virtualenv (`.venv-checkov`, made by the Makefile), because
its pins (boto3, packaging, networkx) would downgrade what the program and moto need.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from offline.runner import ROOT, PlanGraph
from offline.terraform_plan import planned_resources, terraform_plan_document

SKIPS_FILE = ROOT / "policy" / "checkov-skips.yaml"
CHECKOV_VENV = ROOT / ".venv-checkov"
CHECK_ID = re.compile(r"^CKV2?_AWS_\d+$")
MIN_REASON = 40


class CheckovSetupError(RuntimeError):
    """checkov is missing, crashed, or the skips file is malformed."""


@dataclass(frozen=True)
class Skip:
    """One reviewed exception: a check that may fail on the named resources, and why."""

    check: str
    resources: tuple[str, ...]
    reason: str
    stacks: tuple[str, ...] | None = None  # None: every stack

    def applies_to(self, stack: str) -> bool:
        return self.stacks is None or stack in self.stacks


def parse_skips(document: Any, source: str = "checkov-skips.yaml") -> list[Skip]:
    """The skips of the file, or an error listing every entry that lacks a check id, resources or a reason."""
    entries = document.get("skips") if isinstance(document, Mapping) else None
    if not isinstance(entries, list):
        raise CheckovSetupError(f"{source}: expected a top-level 'skips:' list")
    skips: list[Skip] = []
    problems: list[str] = []
    seen: set[tuple[str, str]] = set()
    for n, entry in enumerate(entries):
        where = f"{source}: skips[{n}]"
        if not isinstance(entry, Mapping):
            problems.append(f"{where}: expected a mapping with check, resources and reason")
            continue
        unknown = set(entry) - {"check", "resources", "reason", "stacks"}
        if unknown:
            problems.append(f"{where}: unknown keys {sorted(unknown)}")
        check = entry.get("check")
        resources = entry.get("resources")
        reason = entry.get("reason")
        stacks = entry.get("stacks")
        if stacks is not None and (
            not isinstance(stacks, list) or not stacks or not all(isinstance(x, str) and x for x in stacks)
        ):
            problems.append(f"{where} ({check}): 'stacks' must list stack names, or be left out for every stack")
            stacks = None
        if not isinstance(check, str) or not CHECK_ID.match(check):
            problems.append(f"{where}: 'check' must be a checkov AWS check id like CKV_AWS_117, got {check!r}")
        if not isinstance(resources, list) or not resources or not all(isinstance(r, str) and r for r in resources):
            problems.append(f"{where} ({check}): 'resources' must list the logical names it covers (no wildcards)")
            resources = []
        elif any("*" in r for r in resources):
            problems.append(f"{where} ({check}): 'resources' takes exact logical names, no wildcards")
        if not isinstance(reason, str) or len(reason.strip()) < MIN_REASON:
            problems.append(f"{where} ({check}): 'reason' must say why, in {MIN_REASON}+ characters")
        for resource in resources:
            if (check, resource) in seen:
                problems.append(f"{where}: {check} on {resource} is skipped twice")
            seen.add((check, resource))
        skips.append(
            Skip(
                check=str(check),
                resources=tuple(resources),
                reason=" ".join(str(reason or "").split()),
                stacks=tuple(stacks) if stacks is not None else None,
            )
        )
    if problems:
        raise CheckovSetupError("\n".join(problems))
    return skips


def load_skips(path: Path = SKIPS_FILE) -> list[Skip]:
    return parse_skips(yaml.safe_load(path.read_text()), path.name)


@dataclass(frozen=True)
class Finding:
    """One checkov result on one resource of the plan."""

    check: str
    title: str
    resource: str  # the Pulumi logical name
    address: str  # the Terraform address checkov saw
    guideline: str = ""


@dataclass
class CheckovReport:
    stack: str
    passed: list[Finding] = field(default_factory=list)
    failed: list[Finding] = field(default_factory=list)
    skipped: list[tuple[Finding, Skip]] = field(default_factory=list)
    unmatched_skips: list[tuple[str, str]] = field(default_factory=list)  # (check, resource) not failing here

    @property
    def summary(self) -> str:
        counts = f"{len(self.passed)} passed, {len(self.failed)} failed, {len(self.skipped)} skipped"
        return f"checkov {self.stack}: {counts}"


def checkov_executable() -> Path:
    """`$CHECKOV` if set, else the checkov of `.venv-checkov`."""
    path = Path(os.environ.get("CHECKOV") or CHECKOV_VENV / "bin" / "checkov")
    if not path.exists():
        raise CheckovSetupError(
            f"checkov not found at {path}: run `make {CHECKOV_VENV.name}/.installed` (or set CHECKOV)"
        )
    return path


def run_checkov(plan_document: Mapping[str, Any]) -> dict[str, Any]:
    """checkov's JSON report of the terraform_plan framework over one plan document."""
    with tempfile.TemporaryDirectory(prefix="checkov-plan-") as tmp:
        plan_file = Path(tmp) / "tfplan.json"
        plan_file.write_text(json.dumps(plan_document))
        command = [
            str(checkov_executable()),
            *("--file", str(plan_file), "--framework", "terraform_plan", "--output", "json"),
            "--skip-download",  # no platform calls: checks and guidelines ship with the package
            "--soft-fail",  # the exit code is ours to decide, from the skips
        ]
        # The command is fixed above; only the temp file path varies.
        result = subprocess.run(command, capture_output=True, text=True, check=False, cwd=tmp)  # noqa: S603
    if result.returncode != 0:
        raise CheckovSetupError(f"checkov exited {result.returncode}:\n{result.stderr.strip()[-2000:]}")
    try:
        report = json.loads(result.stdout)
    except json.JSONDecodeError as error:
        raise CheckovSetupError(f"checkov printed no JSON report ({error}):\n{result.stdout[:500]}") from error
    if isinstance(report, list):  # one entry per framework; we ran one
        (report,) = report
    if report.get("summary", {}).get("parsing_errors"):
        raise CheckovSetupError(f"checkov could not parse the plan: {report['summary']}")
    return report


def _findings(results: Iterable[Mapping[str, Any]], names: Mapping[str, str]) -> list[Finding]:
    found: list[Finding] = []
    for result in results:
        address = str(result.get("resource_address") or result.get("resource"))
        found.append(
            Finding(
                check=str(result["check_id"]),
                title=str(result.get("check_name", "")),
                resource=names.get(address, address),
                address=address,
                guideline=str(result.get("guideline") or ""),
            )
        )
    return sorted(found, key=lambda f: (f.check, f.resource))


def judge(
    stack: str, checkov_report: Mapping[str, Any], names: Mapping[str, str], skips: Sequence[Skip]
) -> CheckovReport:
    """Split checkov's failures into skipped (a skip names check and resource) and failed."""
    results = checkov_report.get("results", {})
    report = CheckovReport(stack=stack, passed=_findings(results.get("passed_checks", []), names))
    by_key = {(s.check, r): s for s in skips if s.applies_to(stack) for r in s.resources}
    used: set[tuple[str, str]] = set()
    for finding in _findings(results.get("failed_checks", []), names):
        skip = by_key.get((finding.check, finding.resource))
        if skip is None:
            report.failed.append(finding)
        else:
            report.skipped.append((finding, skip))
            used.add((finding.check, finding.resource))
    present = set(names.values())
    report.unmatched_skips = sorted(k for k in by_key if k not in used and k[1] in present)
    return report


def evaluate_plan(graph: PlanGraph, skips: Sequence[Skip] | None = None) -> CheckovReport:
    """Run checkov over the graph's plan and judge the results against the reviewed skips."""
    names = {p.address: p.resource.name for p in planned_resources(graph)}
    checkov_report = run_checkov(terraform_plan_document(graph))
    return judge(graph.stack, checkov_report, names, load_skips() if skips is None else skips)


def render(report: CheckovReport) -> list[str]:
    lines = [f"checkov (terraform_plan, skips in {SKIPS_FILE.relative_to(ROOT)}):"]
    for finding in report.failed:
        lines.append(f"  FAILED {finding.check} {finding.resource} ({finding.address}): {finding.title}")
        if finding.guideline:
            lines.append(f"    guide: {finding.guideline}")
    checks = sorted({(f.check, s.reason) for f, s in report.skipped})
    for check, reason in checks:
        covered = sorted(f.resource for f, s in report.skipped if f.check == check)
        lines.append(f"  skipped {check} on {len(covered)} resource(s): {reason}")
    for check, resource in report.unmatched_skips:
        lines.append(f"  note: skip of {check} on {resource} matched no failure in this stack (now passing?)")
    if not report.failed:
        lines.append("  no failures")
    return lines


def checkov_step(graph: PlanGraph) -> tuple[list[str], int]:
    """What `make plan` prints after the policy line, and its exit code (1 on any failed check)."""
    report = evaluate_plan(graph)
    return [*render(report), report.summary], 1 if report.failed else 0
