"""Bad stack files as a new user writes them: each one exits 2 with a message naming what is wrong, never a
traceback, through the config loader and through `make plan`'s entry point (`python -m offline.plan`)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

from components.config import ConfigError, parse_stack_config
from offline import plan
from offline.runner import ROOT, flatten_config, merge_config, read_stack_config
from offline.stack_file import StackFileError

DEV = (ROOT / "Pulumi.dev.yaml").read_text()


@dataclass(frozen=True)
class BadFile:
    """A stack file (full text, or overrides of Pulumi.dev.yaml) and what its error must say."""

    name: str
    expected: str
    text: str | None = None
    overrides: dict[str, Any] | None = None

    def write(self, directory: Path, stack: str) -> Path:
        path = directory / f"Pulumi.{stack}.yaml"
        if self.text is not None:
            path.write_text(self.text)
        else:
            config = merge_config(yaml.safe_load(DEV)["config"], self.overrides or {})
            path.write_text(yaml.safe_dump({"config": config}, sort_keys=False, allow_unicode=True))
        return path


def dev_with(**replacements: str) -> str:
    """Pulumi.dev.yaml with lines replaced verbatim, so line numbers in messages are predictable."""
    text = DEV
    for old, new in replacements.items():
        assert old in text, old
        text = text.replace(old, new, 1)
    return text


def line_of(text: str, fragment: str) -> int:
    return text[: text.index(fragment)].count("\n") + 1


def dev_setting(key: str, value: Any) -> str:
    """Pulumi.dev.yaml with one top-level config key set as is (no merging), as YAML text."""
    config = {**yaml.safe_load(DEV)["config"], key: value}
    return yaml.safe_dump({"config": config}, sort_keys=False)


SECRET_URL = "https://ci-bot:ghp_0123456789abcdefghijABCDEFGHIJ012345@github.com/example-org/platform"
REGION_LINE = line_of(DEV, "aws:region")
FILE_ERRORS = [
    BadFile("unclosed quote", "Pulumi.qa.yaml:4:1: invalid YAML", "config:\n  aws:region: eu-west-1\n  a: 'b\n"),
    BadFile(
        "tab indentation", "Pulumi.qa.yaml:3:1: invalid YAML", "config:\n  aws:region: eu-west-1\n\tplatform:x: 1\n"
    ),
    BadFile(
        "top-level list", "Pulumi.qa.yaml:1:1: a stack file is a mapping with a config: key, found a list", "- a\n"
    ),
    BadFile("top-level scalar", "Pulumi.qa.yaml:1:1: a stack file is a mapping", "just text\n"),
    BadFile(
        "config as a list",
        "Pulumi.qa.yaml:2:3: config: must be a mapping of keys to values, found a list",
        "config:\n  - aws:region: eu-west-1\n",
    ),
    BadFile("config as text", "Pulumi.qa.yaml:1:9: config: must be a mapping", "config: eu-west-1\n"),
    BadFile("misspelt config", "Pulumi.qa.yaml:1:1: unknown top-level key 'conifg'", "conifg:\n  aws:region: x\n"),
    BadFile(
        "ESC environment",
        "Pulumi.qa.yaml:2:3: environment: Pulumi ESC environments cannot be resolved offline",
        "environment:\n  - platform/dev\nconfig:\n  aws:region: eu-west-1\n",
    ),
    BadFile(
        "encrypted value",
        f"Pulumi.qa.yaml:{line_of(DEV, 'repoUrl') + 1}:7: platform:eks.repoUrl: an encrypted (secure:) value",
        dev_with(**{"repoUrl: git@github.com:example-org/platform.git": "repoUrl:\n      secure: v1:AAAbbbCCC=="}),
    ),
    BadFile(
        "encrypted top-level value",
        "Pulumi.qa.yaml:3:5: platform:slackToken: an encrypted (secure:) value",
        "config:\n  platform:slackToken:\n    secure: v1:AAAbbbCCC==\n",
    ),
    BadFile(
        "key given twice",
        f"Pulumi.qa.yaml:{REGION_LINE + 1}:3: key 'aws:region' given twice (first on line {REGION_LINE})",
        dev_with(**{"aws:region: eu-west-1\n": "aws:region: eu-west-1\n  aws:region: eu-west-2\n"}),
    ),
    BadFile(
        "nested key given twice",
        f"Pulumi.qa.yaml:{line_of(DEV, 'nodeMinSize') + 1}:5: key 'nodeMinSize' given twice",
        dev_with(nodeMinSize="nodeMinSize: 1\n    nodeMinSize"),
    ),
    BadFile("config given twice", "Pulumi.qa.yaml:3:1: key 'config' given twice", "config: {}\n# again\nconfig: {}\n"),
    BadFile(
        "key with two colons",
        "Pulumi.qa.yaml:2:3: config key 'platform:eks:repoUrl' is not of the form",
        "config:\n  platform:eks:repoUrl: x\n",
    ),
    BadFile("numeric key", "Pulumi.qa.yaml:2:3: config key '42' is not of the form", "config:\n  42: x\n"),
]

CUT_REGION = '"' + "eu-west-1" * 6 + "eu-w… (452 characters)"
VALUE_ERRORS = [
    BadFile(
        "missing eks.repoUrl",
        "platform:eks.repoUrl: required but not set while eks is enabled",
        overrides={"platform:eks": {"repoUrl": None}},
    ),
    BadFile("README copy without its edit", "set platform:eks.secretsPrefix to 'platform/dev/'", text=DEV),
    BadFile(
        "true is not an integer",
        "platform:featureStore.shardCount: got true; true is a boolean, not a number",
        overrides={"platform:featureStore": {"shardCount": True}},
    ),
    BadFile(
        "true is not a top-level integer",
        "platform:logRetentionDays: got true; true is a boolean",
        overrides={"platform:logRetentionDays": True},
    ),
    BadFile("null shown as null", "platform:drRegion: got null;", dev_with(**{"drRegion: eu-central-1": "drRegion:"})),
    BadFile("null section", "platform:eks: got null;", dev_setting("platform:eks", None)),
    BadFile(
        "float-looking version",
        "platform:eks.kubernetesVersion: got 1.34; 1.34 is read as a number, and YAML drops digits "
        '(1.30 becomes 1.3): write it in quotes, e.g. "1.34"',
        dev_with(**{"    enabled: true\n    repoUrl": "    enabled: true\n    kubernetesVersion: 1.34\n    repoUrl"}),
    ),
    BadFile(
        "float-looking engine version",
        "platform:backup.database.engineVersion: got 8.1; 8.1 is read as a number",
        overrides={"platform:backup": {"database": {"engineVersion": 8.10}}},
    ),
    BadFile(
        "long value cut",
        f"platform:drRegion: got {CUT_REGION}; {CUT_REGION} is not an AWS region name",
        overrides={"platform:drRegion": "eu-west-1" * 50},
    ),
    BadFile(
        "token in a URL masked",
        'platform:eks.repoUrl: got "https://***@github.com/example-org/platform"',
        overrides={"platform:eks": {"repoUrl": SECRET_URL}},
    ),
    BadFile(
        "blank tag",
        'platform:tags.owner: got "   "; a tag value must not be blank',
        overrides={"platform:tags": {"owner": "   "}},
    ),
    BadFile(
        "control character in a tag",
        r'platform:tags.costCenter: got "CC-1042\n"; "CC-1042\n" contains control characters',
        overrides={"platform:tags": {"costCenter": "CC-1042\n"}},
    ),
    BadFile(
        "tag with a character AWS refuses",
        'platform:tags.owner: got "platform#team"; "platform#team" is not an AWS tag value',
        overrides={"platform:tags": {"owner": "platform#team"}},
    ),
    BadFile(
        "overlapping database VPCs",
        "vpcCidr 10.40.0.0/16 and drVpcCidr 10.40.128.0/17 overlap",
        overrides={"platform:backup": {"database": {"enabled": True, "drVpcCidr": "10.40.128.0/17"}}},
    ),
    BadFile(
        "cluster VPC overlapping the database VPC",
        "eks.vpcCidr 10.0.0.0/16 overlaps backup.database.vpcCidr 10.0.0.0/20",
        overrides={"platform:backup": {"database": {"enabled": True, "vpcCidr": "10.0.0.0/20"}}},
    ),
    BadFile(
        "reserved concurrency in dev",
        "featureStore.enrichReservedConcurrency is set, but a dev stack reserves no Lambda concurrency",
        overrides={"platform:featureStore": {"enrichReservedConcurrency": 2}},
    ),
    BadFile(
        "misspelt namespace",
        "platfrom:logRetentionDays: unknown namespace",
        overrides={"platfrom:logRetentionDays": 14},
    ),
    BadFile("provider setting the explicit providers ignore", "aws:profile: not read", overrides={"aws:profile": "a"}),
    BadFile(
        "section as a list",
        "platform:eks: got [1, 2]; Input should be a valid dictionary",
        overrides={"platform:eks": [1, 2]},
    ),
    BadFile(
        "fraction for an integer",
        "platform:featureStore.shardCount: got 1.5;",
        overrides={"platform:featureStore": {"shardCount": 1.5}},
    ),
    BadFile(
        "text for a boolean",
        'platform:dataLake.accessLogging: got "sometimes"',
        overrides={"platform:dataLake": {"accessLogging": "sometimes"}},
    ),
    BadFile(
        "environment outside the classes", 'platform:environment: got "qa"', overrides={"platform:environment": "qa"}
    ),
    BadFile(
        "prod refusing the sandbox",
        "charges through the deterministic sandbox",
        overrides={"platform:environment": "prod", "platform:orders": {"paymentGateway": "local"}},
    ),
]

CASES = [pytest.param(case, id=case.name) for case in (*FILE_ERRORS, *VALUE_ERRORS)]


def plan_exit(path: Path, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    code = plan.main(["--stack", "qa", "--config-file", str(path)])
    return code, capsys.readouterr().err


@pytest.mark.parametrize("case", CASES)
def test_make_plan_exits_2_with_the_message(case: BadFile, tmp_path: Path, capsys) -> None:
    code, err = plan_exit(case.write(tmp_path, "qa"), capsys)
    assert code == 2, err
    assert case.expected in err
    assert err.startswith("plan qa: ") and "Traceback" not in err


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in FILE_ERRORS])
def test_the_loader_refuses_the_file_with_its_position(case: BadFile, tmp_path: Path) -> None:
    path = case.write(tmp_path, "qa")
    with pytest.raises(StackFileError) as caught:
        read_stack_config("qa", path)
    assert case.expected in str(caught.value)


@pytest.mark.parametrize("case", [pytest.param(c, id=c.name) for c in VALUE_ERRORS])
def test_the_loader_reports_the_value(case: BadFile, tmp_path: Path) -> None:
    config = read_stack_config("qa", case.write(tmp_path, "qa"))
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(flatten_config(config), project="platform", stack="qa")
    assert any(case.expected in problem for problem in caught.value.problems), caught.value.problems


def test_scalars_read_as_the_pulumi_cli_reads_them(tmp_path: Path) -> None:
    path = tmp_path / "Pulumi.qa.yaml"
    path.write_text("config:\n  platform:tags:\n    owner: yes\n    since: 2024-01-31\n    on: [true, False, off]\n")
    assert read_stack_config("qa", path) == {
        "platform:tags": {"owner": "yes", "since": "2024-01-31", "on": [True, False, "off"]}
    }


def test_a_file_that_is_not_utf8_is_refused_with_its_position(tmp_path: Path, capsys) -> None:
    path = tmp_path / "Pulumi.qa.yaml"
    path.write_bytes(b"config:\n  platform:tags:\n    owner: caf\xe9\n")
    assert plan.main(["--stack", "qa", "--config-file", str(path)]) == 2
    assert capsys.readouterr().err == "plan qa: Pulumi.qa.yaml:3:15: not UTF-8 text\n"


def test_rejected_values_are_echoed_in_at_most_about_60_characters(tmp_path: Path) -> None:
    config = merge_config(yaml.safe_load(DEV)["config"], {"platform:eks": {"slackChannel": "#" + "x" * 5000}})
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(flatten_config(config), project="platform", stack="qa")
    [problem] = caught.value.problems
    assert len(problem) < 200 and "x" * 61 not in problem


def test_field_and_cross_field_errors_of_one_section_arrive_together() -> None:
    eks = {"vpcCidr": "10.0.0.0/33", "nodeMinSize": 4, "nodeDesiredSize": 3, "environments": ["dev", "dev"]}
    database = {"enabled": True, "allocatedStorageGb": 500, "vpcCidr": "10.41.0.0/17"}
    bad = {
        "platform:eks": eks,
        "platform:dataLake": {"rawGlacierDays": 40, "resultsExpirationDays": 0},
        "platform:backup": {"database": {**database, "performanceInsightsRetentionDays": 8}},
        "platform:orders": {"paymentHeartbeatSeconds": 900, "paymentTimeoutSeconds": 600, "logLevel": "DEBUG"},
    }
    config = flatten_config(merge_config(yaml.safe_load(DEV)["config"], bad))
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(config, project="platform", stack="dev")
    found = "\n".join(caught.value.problems)
    for expected in (
        'platform:eks.vpcCidr: got "10.0.0.0/33"',
        "platform:eks: nodeMinSize (4) <= nodeDesiredSize (3)",
        "platform:eks: environments ['dev', 'dev'] lists an environment twice",
        "platform:dataLake.resultsExpirationDays: got 0",
        "platform:dataLake: rawGlacierDays (40) must be at least rawInfrequentAccessDays (30) + 30",
        "platform:backup.database.performanceInsightsRetentionDays: got 8",
        "platform:backup.database: maxAllocatedStorageGb (100) must be at least allocatedStorageGb (500)",
        "platform:backup.database: vpcCidr 10.41.0.0/17 and drVpcCidr 10.41.0.0/16 overlap",
        'platform:orders.logLevel: got "DEBUG"',
        "platform:orders: paymentHeartbeatSeconds (900) must be less than paymentTimeoutSeconds (600)",
    ):
        assert expected in found, found
    # A rule over an invalid key is skipped rather than reported about a value the file does not hold.
    assert "vpcCidr 10.0.0.0/16 must be" not in found


def test_stack_wide_rules_arrive_with_the_top_level_field_errors() -> None:
    bad = {
        "platform:logRetentionDays": 2,
        "platform:tags": {"owner": "", "costCenter": "CC-1"},
        "platform:orders": {"paymentIntegration": "direct", "paymentGateway": "local"},
        "platform:eks": {"repoUrl": None},
    }
    config = flatten_config(merge_config(yaml.safe_load((ROOT / "Pulumi.prod.yaml").read_text())["config"], bad))
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(config, project="platform", stack="prod")
    found = "\n".join(caught.value.problems)
    for expected in (
        "platform:logRetentionDays: got 2",
        'platform:tags.owner: got ""',
        "platform: orders.paymentIntegration 'direct' with orders.paymentGateway 'local'",
        "platform:eks.repoUrl: required but not set",
    ):
        assert expected in found, found


def test_a_rule_still_runs_when_a_required_key_is_invalid() -> None:
    config = merge_config(
        yaml.safe_load(DEV)["config"], {"platform:environment": "qa", "platform:eks": {"repoUrl": None}}
    )
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(flatten_config(config), project="platform", stack="dev")
    assert [p.split(":", 2)[1].split(" ")[0] for p in caught.value.problems] == ["environment", "eks.repoUrl"]


# -- the README's recipe, as written ----------------------------------------------------------


def readme_recipe() -> tuple[list[str], dict[str, Any], list[str]]:
    """The shell commands and the YAML the README's "Adding a stack" section tells a user to write."""
    readme = (ROOT / "README.md").read_text()
    section = readme[readme.index("## Adding a stack") : readme.index("### Lambda concurrency quota")]
    blocks = re.findall(r"```(sh|yaml)\n(.*?)```", section, re.S)
    [copy, plan_command] = [body.strip() for kind, body in blocks if kind == "sh"]
    [addition] = [yaml.safe_load(body) for kind, body in blocks if kind == "yaml"]
    return copy.split(), addition, plan_command.split()


def test_the_readme_recipe_for_a_new_stack_plans_cleanly(tmp_path: Path, capsys) -> None:
    (cp, source, target), addition, make_plan = readme_recipe()
    assert (cp, make_plan[:2]) == ("cp", ["make", "plan"])
    stack = dict(arg.split("=", 1) for arg in make_plan[2:])["STACK"]
    assert target == f"Pulumi.{stack}.yaml"
    copy = tmp_path / target
    shutil.copy(ROOT / source, copy)
    config = merge_config(read_stack_config(stack, copy), addition["config"])
    copy.write_text(yaml.safe_dump({"config": config}, sort_keys=False))
    assert plan.main(["--stack", stack, "--config-file", str(copy)]) == 0
    assert re.search(rf"^plan {stack}: \d+ resources, 0 policy violations$", capsys.readouterr().out, re.M)


# -- the real process: exit status and stderr of `python -m offline.plan` ---------------------


PROCESS_CASES = [FILE_ERRORS[0], FILE_ERRORS[8], VALUE_ERRORS[0], VALUE_ERRORS[1]]


@pytest.mark.parametrize("case", PROCESS_CASES, ids=lambda c: c.name)
def test_the_plan_process_exits_2_without_a_traceback(case: BadFile, tmp_path: Path) -> None:
    path = case.write(tmp_path, "qa")
    result = subprocess.run(
        [sys.executable, "-m", "offline.plan", "--stack", "qa", "--config-file", str(path)],
        cwd=ROOT,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 2, result.stderr
    assert case.expected in result.stderr
    assert "Traceback" not in result.stderr and result.stdout == ""
