"""`make plan` runs the pack: violations with remediation, waivers, the summary line and the exit code."""

from __future__ import annotations

import os
import re
import subprocess
from pathlib import Path

import pytest

from offline import plan
from offline.runner import ROOT, PlanGraph
from tests.conftest import stack_config
from tests.policy.checkov_pending import PENDING
from tests.policy.conftest import mutated, set_path

REASON = "Scratch table rebuilt from the stream every night (PLAT-42, until 2026-06-30)."
CHECKOV_SUMMARY = re.compile(r"^checkov prod: \d+ passed, (\d+) failed, \d+ skipped$")


@pytest.fixture
def pack_only(monkeypatch: pytest.MonkeyPatch) -> None:
    """For the pack's cases over the small baseline: checkov's verdict is judged in test_checkov.py."""
    monkeypatch.setattr(
        plan, "checkov_step", lambda graph, config: (["checkov prod: 0 passed, 0 failed, 0 skipped"], 0)
    )


@pytest.fixture
def broken_table_plan(baseline: PlanGraph, monkeypatch: pytest.MonkeyPatch, pack_only: None) -> PlanGraph:
    """`make plan` over the baseline with point-in-time recovery switched off on one table."""
    table = next(r for r in baseline.resources if r.name == "guard-table")
    graph = mutated(baseline, table, set_path("pointInTimeRecovery.enabled", False))
    monkeypatch.setattr(plan, "run_program", lambda stack, config: graph)
    return graph


def _run(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = plan.main(["--stack", "prod"])
    return code, capsys.readouterr().out.splitlines()


def test_a_checkov_failure_fails_the_plan(
    capsys: pytest.CaptureFixture[str], prod_plan: PlanGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    """No X-Ray tracing configuration on a function: no pack policy asks for one, checkov's CKV_AWS_50 does."""
    function = prod_plan.one("aws:lambda/function:Function", "feature-store-predict-function")
    graph = mutated(prod_plan, function, set_path("tracingConfig", None))
    monkeypatch.setattr(plan, "run_program", lambda stack, config: graph)
    code, lines = _run(capsys)
    assert code == 1
    assert f"plan prod: {len(graph.resources)} resources, 0 policy violations" in lines
    assert any(line.startswith("  FAILED CKV_AWS_50 feature-store-predict-function ") for line in lines)
    summary = CHECKOV_SUMMARY.match(lines[-1])
    assert summary and int(summary.group(1)) == len(PENDING["prod"]) + 1


def test_a_mandatory_violation_fails_the_plan(capsys: pytest.CaptureFixture[str], broken_table_plan: PlanGraph) -> None:
    code, lines = _run(capsys)
    assert code == 1
    assert f"plan prod: {len(broken_table_plan.resources)} resources, 1 policy violations" in lines
    assert lines[-1] == "checkov prod: 0 passed, 0 failed, 0 skipped"
    at = lines.index("  aws:dynamodb/table:Table guard-table")
    assert lines[at + 1 : at + 3] == [
        "    [mandatory] dynamodb-point-in-time-recovery",
        "      - point-in-time recovery is off",
    ]
    assert lines[at + 3].startswith("      remediation: Set point_in_time_recovery=")


def test_a_waived_violation_is_printed_and_passes(
    capsys: pytest.CaptureFixture[str], broken_table_plan: PlanGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiver = {"policy": "dynamodb-point-in-time-recovery", "resources": ["guard-table"], "reason": REASON}
    config = {**stack_config("prod"), "platform:policy": {"waivers": [waiver]}}
    monkeypatch.setattr(plan, "read_stack_config", lambda stack, path=None: config)
    code, lines = _run(capsys)
    assert code == 0
    assert f"plan prod: {len(broken_table_plan.resources)} resources, 0 policy violations" in lines
    assert f"  waived dynamodb-point-in-time-recovery on aws:dynamodb/table:Table guard-table: {REASON}" in lines


def test_a_waiver_of_an_unknown_policy_stops_the_plan(
    capsys: pytest.CaptureFixture[str], broken_table_plan: PlanGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiver = {"policy": "no-such-policy", "resources": ["guard-table"], "reason": REASON}
    monkeypatch.setattr(
        plan,
        "read_stack_config",
        lambda stack, path=None: {**stack_config("prod"), "platform:policy": {"waivers": [waiver]}},
    )
    assert plan.main(["--stack", "prod"]) == 2
    assert "platform:policy.waivers: no policy named no-such-policy" in capsys.readouterr().err


# Started by the interpreter `make plan` runs (PYTHONPATH first): the real program, then point-in-time
# recovery switched off on the prod feature table, so the exit status is the one of the real entry point.
BREAK_A_TABLE = """
import sys
sys.path.insert(0, {root!r})
import offline.runner as runner
from tests.policy.conftest import mutated, set_path

_real_run_program = runner.run_program


def run_program(stack, config, **kwargs):
    graph = _real_run_program(stack, config, **kwargs)
    table = graph.one("aws:dynamodb/table:Table", "feature-store-features")
    return mutated(graph, table, set_path("pointInTimeRecovery.enabled", False))


runner.run_program = run_program

# The exit status under test is the pack's: checkov's verdict on prod is judged by the test above.
import offline.checkov_plan as checkov_plan

checkov_plan.checkov_step = lambda graph, config: (["checkov prod: judged by the clean-stack test"], 0)
"""


def _make_plan(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    # -o: use the installed .venv as it is (no pip run from the test).
    return subprocess.run(
        ["make", "--no-print-directory", "-o", ".venv/.runtime", "plan", "STACK=prod"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_make_plan_on_the_shipped_prod_stack_ends_with_checkov_and_fails_only_on_its_findings(
    prod_plan: PlanGraph,
) -> None:
    """The clean stack through the real entry point: the pack, its zero-violation line, then checkov."""
    result = _make_plan(dict(os.environ))
    assert (result.returncode != 0) == bool(PENDING["prod"]), result.stderr
    lines = result.stdout.splitlines()
    at = lines.index(f"plan prod: {len(prod_plan.resources)} resources, 0 policy violations")
    assert "Policy pack platform-guardrails (39 policies):" in lines[:at]
    assert lines[at + 2].startswith("checkov (terraform_plan, skips in policy/checkov-skips.yaml):")
    summary = CHECKOV_SUMMARY.match(lines[-1])
    assert summary and int(summary.group(1)) == len(PENDING["prod"])


def test_make_plan_exits_non_zero_on_a_mandatory_violation(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(BREAK_A_TABLE.format(root=str(ROOT)))
    result = _make_plan({**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0
    assert re.search(r"^plan prod: \d+ resources, 1 policy violations$", result.stdout, re.M), result.stderr
    at = result.stdout.index("  aws:dynamodb/table:Table feature-store-features\n")
    assert result.stdout[at:].splitlines()[1] == "    [mandatory] dynamodb-point-in-time-recovery"
