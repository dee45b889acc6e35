"""Stack configuration: every shipped stack validates; every bad value fails naming key, value and rule."""

from __future__ import annotations

import pytest

from components.config import ConfigError, StackConfig, parse_stack_config
from offline.runner import flatten_config, merge_config, read_stack_config
from tests.conftest import stack_config


def parse(stack: str = "dev", overrides: dict | None = None) -> StackConfig:
    config = merge_config(stack_config(stack), overrides or {})
    return parse_stack_config(flatten_config(config), project="platform", stack=stack)


def problems(stack: str = "dev", overrides: dict | None = None) -> list[str]:
    with pytest.raises(ConfigError) as caught:
        parse(stack, overrides)
    return caught.value.problems


@pytest.mark.parametrize("stack", ["dev", "prod", "staging"])
def test_shipped_stacks_validate(stack: str) -> None:
    config = parse(stack)
    assert config.environment == stack
    assert config.region != config.dr_region
    assert config.is_prod is (stack == "prod")


def test_prod_keeps_logs_longer_than_dev() -> None:
    assert parse("prod").log_retention_days > parse("dev").log_retention_days


def test_unknown_top_level_key_is_named_with_the_allowed_keys() -> None:
    [message] = problems(overrides={"platform:drRegoin": "eu-west-2"})
    assert message.startswith("platform:drRegoin: unknown key")
    assert "drRegion" in message and "featureStore" in message


def test_unknown_nested_key_is_named_with_its_path() -> None:
    [message] = problems(overrides={"platform:tags": {"team": "x"}})
    assert message.startswith("platform:tags.team: unknown key")
    assert "costCenter" in message and "owner" in message


def test_dr_region_equal_to_primary_is_refused() -> None:
    [message] = problems(overrides={"platform:drRegion": "eu-west-1"})
    assert message.startswith('platform:drRegion: got "eu-west-1"')
    assert "primary region" in message


def test_region_that_is_not_a_region_is_refused() -> None:
    [message] = problems(overrides={"platform:drRegion": "europe"})
    assert 'platform:drRegion: got "europe"' in message and "AWS region" in message


def test_retention_aws_would_refuse_lists_the_allowed_values() -> None:
    [message] = problems(overrides={"platform:logRetentionDays": 10})
    assert message.startswith("platform:logRetentionDays: got 10")
    assert "allowed: 1, 3, 5, 7, 14, 30" in message


def test_environment_outside_the_known_classes_is_refused() -> None:
    [message] = problems(overrides={"platform:environment": "qa"})
    assert message.startswith('platform:environment: got "qa"')
    assert "'dev', 'staging' or 'prod'" in message


def test_missing_required_values_are_reported() -> None:
    found = problems(overrides={"platform:tags": None, "aws:region": None})
    assert "platform:tags: required but not set" in found
    assert any(p.startswith("aws:region: required but not set") for p in found)


def test_all_errors_are_reported_at_once() -> None:
    found = problems(
        overrides={
            "platform:logRetentionDays": 11,
            "platform:environment": "qa",
            "platform:tags": {"owner": "", "costCenter": "CC-1"},
            "platform:bogus": 1,
        }
    )
    keys = sorted(p.split(":", 2)[1].split(" ")[0] for p in found)
    assert keys == ["bogus", "environment", "logRetentionDays", "tags.owner"]


def test_reserved_keys_cannot_be_overridden() -> None:
    found = problems(overrides={"platform:project": "other"})
    assert any(p.startswith("platform:project: reserved") for p in found)


def test_config_is_frozen() -> None:
    config = parse()
    with pytest.raises(ValueError, match="frozen"):
        config.environment = "prod"  # type: ignore[misc]


def test_stack_files_hold_realistic_ownership_tags() -> None:
    for stack in ("dev", "prod"):
        tags = read_stack_config(stack)["platform:tags"]
        assert tags["owner"] and tags["costCenter"].startswith("CC-")


def test_a_cidr_that_does_not_parse_is_refused_with_an_example() -> None:
    [message] = problems(overrides={"platform:eks": {"vpcCidr": "10.0.0.0/33"}})
    assert message.startswith('platform:eks.vpcCidr: got "10.0.0.0/33"')
    assert "is not a CIDR block such as 10.0.0.0/16" in message


def test_a_cidr_with_host_bits_is_refused() -> None:
    [message] = problems(overrides={"platform:eks": {"vpcCidr": "10.0.0.1/16"}})
    assert "platform:eks.vpcCidr" in message and "has host bits set" in message


def test_node_counts_out_of_order_name_all_three_keys_and_values() -> None:
    [message] = problems(overrides={"platform:eks": {"nodeMinSize": 4, "nodeDesiredSize": 3, "nodeMaxSize": 5}})
    assert message.startswith("platform:eks:")
    assert "nodeMinSize (4) <= nodeDesiredSize (3) <= nodeMaxSize (5) must hold" in message


def test_errors_from_several_sections_arrive_together() -> None:
    found = problems(
        overrides={
            "platform:eks": {"vpcCidr": "not-a-cidr"},
            "platform:logRetentionDays": 2,
            "platform:featureStore": {"shardCount": 0},
        }
    )
    assert {p.split(":", 2)[1].split(" ")[0] for p in found} == {
        "eks.vpcCidr",
        "logRetentionDays",
        "featureStore.shardCount",
    }


def test_prod_refuses_the_payment_sandbox() -> None:
    [message] = problems("prod", {"platform:orders": {"paymentIntegration": "direct", "paymentGateway": "local"}})
    assert message.startswith("platform: orders.paymentIntegration 'direct' with orders.paymentGateway 'local'")
    assert "never moves money" in message
    assert parse("dev").orders.payment_gateway == "local"  # the sandbox is what dev is for
