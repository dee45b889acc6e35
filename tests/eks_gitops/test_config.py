"""Bad `eks` configuration fails at plan time with a message naming the key, the value and the rule."""

from __future__ import annotations

import pulumi
import pytest

from components.config import ConfigError, parse_stack_config
from offline.runner import flatten_config, merge_config
from tests.conftest import stack_config


def problems(overrides: dict, stack: str = "dev") -> list[str]:
    config = merge_config(stack_config(stack), {"platform:eks": overrides})
    with pytest.raises(ConfigError) as caught:
        parse_stack_config(flatten_config(config), project="platform", stack=stack)
    return caught.value.problems


def test_unknown_environment_in_the_applicationset_list_is_rejected() -> None:
    [message] = problems({"environments": ["dev", "qa"]})
    assert message.startswith('platform:eks.environments[1]: got "qa"')
    assert "'dev', 'staging' or 'prod'" in message


def test_an_environment_listed_twice_is_rejected() -> None:
    [message] = problems({"environments": ["dev", "dev"]})
    assert "environments ['dev', 'dev'] lists an environment twice" in message


@pytest.mark.parametrize(
    ("sizes", "shown"),
    [
        ({"nodeMinSize": 4, "nodeDesiredSize": 3, "nodeMaxSize": 5}, "nodeMinSize (4) <= nodeDesiredSize (3)"),
        ({"nodeMinSize": 2, "nodeDesiredSize": 6, "nodeMaxSize": 5}, "nodeDesiredSize (6) <= nodeMaxSize (5)"),
    ],
)
def test_node_counts_out_of_order_are_rejected(sizes: dict, shown: str) -> None:
    [message] = problems(sizes)
    # A rule across keys is reported on the section, naming each key with its value.
    assert message.startswith("platform:eks: ")
    assert shown in message


def test_node_count_below_one_names_the_key() -> None:
    [message] = problems({"nodeMinSize": 0, "nodeDesiredSize": 1})
    assert message.startswith("platform:eks.nodeMinSize: got 0")


def test_hostname_without_certificate_is_rejected() -> None:
    [message] = problems({"argocdHostname": "argocd.example.com"})
    assert "argocdHostname 'argocd.example.com' needs argocdCertificateArn" in message


def test_certificate_without_hostname_is_rejected() -> None:
    arn = "arn:aws:acm:eu-west-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b"
    [message] = problems({"argocdCertificateArn": arn})
    assert "argocdCertificateArn is set without argocdHostname" in message


def test_malformed_certificate_arn_names_the_key() -> None:
    [message] = problems({"argocdHostname": "argocd.example.com", "argocdCertificateArn": "cert-123"})
    assert message.startswith('platform:eks.argocdCertificateArn: got "cert-123"')


def test_public_endpoint_open_to_the_internet_is_rejected() -> None:
    [message] = problems({"endpointPublicAccess": True, "publicAccessCidrs": ["0.0.0.0/0"]})
    assert "publicAccessCidrs ['0.0.0.0/0'] open the API to the internet" in message


def test_public_endpoint_without_cidrs_is_rejected() -> None:
    [message] = problems({"endpointPublicAccess": True, "publicAccessCidrs": []})
    assert "endpointPublicAccess is true: list the allowed publicAccessCidrs" in message


def test_cidrs_on_a_private_only_endpoint_are_rejected() -> None:
    [message] = problems({"endpointPublicAccess": False, "publicAccessCidrs": ["198.51.100.0/24"]})
    assert "are set but endpointPublicAccess is false" in message


def test_vpc_too_small_for_six_subnets_is_rejected() -> None:
    [message] = problems({"vpcCidr": "10.0.0.0/24"})
    assert "vpcCidr 10.0.0.0/24 must be a /16 to /20" in message


def test_unpinned_chart_version_is_rejected() -> None:
    [message] = problems({"argocdChartVersion": "latest"})
    assert message.startswith('platform:eks.argocdChartVersion: got "latest"')


def test_secrets_prefix_must_end_with_a_slash() -> None:
    [message] = problems({"secretsPrefix": "platform/dev"})
    assert message.startswith('platform:eks.secretsPrefix: got "platform/dev"')


def test_unsupported_kubernetes_version_lists_the_supported_ones() -> None:
    [message] = problems({"kubernetesVersion": "1.27"})
    assert "'1.33', '1.34', '1.35' or '1.36'" in message


def test_missing_repository_url_is_a_config_error() -> None:
    [message] = problems({"repoUrl": None})
    assert message.startswith("platform:eks.repoUrl: required but not set while eks is enabled")


def test_environment_whose_secrets_the_eso_role_cannot_read_is_a_config_error() -> None:
    [message] = problems({"environments": ["dev", "staging"]})
    assert message.startswith("platform: eks deploys the overlay(s) ['staging']")
    assert "eks.secretsPrefix 'platform/dev/' (the default <project>/<stack>/)" in message
    assert "set platform:eks.secretsPrefix to 'platform/staging/'" in message


def test_a_wider_secrets_prefix_lets_one_cluster_host_two_environments(plan_with) -> None:
    plan = plan_with("dev", {"platform:eks": {"environments": ["dev", "staging"], "secretsPrefix": "platform/"}})
    elements = plan.one("kubernetes:argoproj.io/v1alpha1:ApplicationSet").inputs["spec"]["generators"][0]["list"]
    assert elements["elements"] == [
        {"env": "dev", "namespace": "development"},
        {"env": "staging", "namespace": "staging"},
    ]


def test_config_errors_surface_as_a_run_error(plan_with) -> None:
    with pytest.raises(pulumi.RunError, match=r"platform:eks.environments\[0\]"):
        plan_with("dev", {"platform:eks": {"environments": ["qa"]}})
