"""Order functions read resource names from their environment and tunable settings from SSM."""

from __future__ import annotations

from collections.abc import Iterator

import boto3
import pytest
from moto import mock_aws

from handlers.common import params
from handlers.order_workflow import runtime
from tests.order_workflow.emulator import ENVIRONMENT, PARAMETERS, REGION, put_parameters


@pytest.fixture
def ssm(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    for key, value in {**ENVIRONMENT, "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        runtime.reset()
        client = boto3.client("ssm", region_name=REGION)
        put_parameters(client)
        yield client
        runtime.reset()


def test_settings_combine_wiring_from_the_environment_and_parameters_from_ssm(ssm) -> None:
    settings = runtime.settings()
    assert (settings.orders_table, settings.event_bus_name) == ("orders", "orders-bus")
    assert settings.payment_gateway == "local"
    assert settings.callback_ttl_seconds == 3600


def test_a_parameter_change_reaches_warm_functions_after_the_cache_period(ssm, monkeypatch) -> None:
    clock = iter([0.0, 10.0, 400.0])
    monkeypatch.setattr(params.time, "monotonic", lambda: next(clock))
    assert runtime.settings().callback_ttl_seconds == 3600
    put_parameters(ssm, {"callbackTtlSeconds": "7200"})
    assert runtime.settings().callback_ttl_seconds == 3600  # still cached
    assert runtime.settings().callback_ttl_seconds == 7200


def test_missing_wiring_is_named() -> None:
    with pytest.raises(runtime.SettingsError, match=r"\['EVENT_BUS_NAME'\] are not set"):
        runtime.Settings.load({k: v for k, v in ENVIRONMENT.items() if k != "EVENT_BUS_NAME"}, PARAMETERS)


def test_missing_parameter_is_named_with_its_full_path() -> None:
    with pytest.raises(runtime.SettingsError, match=r"\['/platform/test/orders/paymentGateway'\] are not set"):
        runtime.Settings.load(ENVIRONMENT, {"callbackTtlSeconds": "60"})


@pytest.mark.parametrize("ttl", ["0", "-5", "soon", ""])
def test_a_bad_ttl_is_refused_with_its_value(ttl: str) -> None:
    with pytest.raises(runtime.SettingsError, match="callbackTtlSeconds is"):
        runtime.Settings.load(ENVIRONMENT, {**PARAMETERS, "callbackTtlSeconds": ttl})
