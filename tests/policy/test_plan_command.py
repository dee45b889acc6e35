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
from tests.policy.conftest import mutated, set_path

REASON = "Scratch table rebuilt from the stream every night (PLAT-42, until 2026-06-30)."


@pytest.fixture
def broken_table_plan(baseline: PlanGraph, monkeypatch: pytest.MonkeyPatch) -> PlanGraph:
    """`make plan` over the baseline with point-in-time recovery switched off on one table."""
    table = next(r for r in baseline.resources if r.name == "guard-table")
    graph = mutated(baseline, table, set_path("pointInTimeRecovery.enabled", False))
    monkeypatch.setattr(plan, "run_program", lambda stack, config: graph)
    return graph


def _run(capsys: pytest.CaptureFixture[str]) -> tuple[int, list[str]]:
    code = plan.main(["--stack", "prod"])
    return code, capsys.readouterr().out.splitlines()


def test_a_clean_stack_plans_with_zero_violations(capsys: pytest.CaptureFixture[str], prod_plan: PlanGraph) -> None:
    code, lines = _run(capsys)
    assert code == 0
    assert lines[-1] == f"plan prod: {len(prod_plan.resources)} resources, 0 policy violations"
    assert "Policy pack platform-guardrails (39 policies):" in lines


def test_a_mandatory_violation_fails_the_plan(capsys: pytest.CaptureFixture[str], broken_table_plan: PlanGraph) -> None:
    code, lines = _run(capsys)
    assert code == 1
    assert lines[-1] == f"plan prod: {len(broken_table_plan.resources)} resources, 1 policy violations"
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
    monkeypatch.setattr(plan, "read_stack_config", lambda stack: config)
    code, lines = _run(capsys)
    assert code == 0
    assert lines[-1].endswith("resources, 0 policy violations")
    assert f"  waived dynamodb-point-in-time-recovery on aws:dynamodb/table:Table guard-table: {REASON}" in lines


def test_a_waiver_of_an_unknown_policy_stops_the_plan(
    capsys: pytest.CaptureFixture[str], broken_table_plan: PlanGraph, monkeypatch: pytest.MonkeyPatch
) -> None:
    waiver = {"policy": "no-such-policy", "resources": ["guard-table"], "reason": REASON}
    monkeypatch.setattr(
        plan, "read_stack_config", lambda stack: {**stack_config("prod"), "platform:policy": {"waivers": [waiver]}}
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


def test_make_plan_exits_zero_on_the_shipped_prod_stack() -> None:
    result = _make_plan(dict(os.environ))
    assert result.returncode == 0, result.stderr
    assert re.search(r"^plan prod: \d+ resources, 0 policy violations$", result.stdout, re.M)


def test_make_plan_exits_non_zero_on_a_mandatory_violation(tmp_path: Path) -> None:
    (tmp_path / "sitecustomize.py").write_text(BREAK_A_TABLE.format(root=str(ROOT)))
    result = _make_plan({**os.environ, "PYTHONPATH": str(tmp_path)})
    assert result.returncode != 0
    assert re.search(r"^plan prod: \d+ resources, 1 policy violations$", result.stdout, re.M), result.stderr
    at = result.stdout.index("  aws:dynamodb/table:Table feature-store-features\n")
    assert result.stdout[at:].splitlines()[1] == "    [mandatory] dynamodb-point-in-time-recovery"
