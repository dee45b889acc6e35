"""Every stack output is documented in the README's generated table, and nothing documented is missing."""

from __future__ import annotations

from typing import Any

import pytest
from pulumi.runtime import rpc

from offline.config_doc import STACK_OUTPUTS
from offline.runner import PlanGraph


def output_keys(value: Any, prefix: str = "") -> set[str]:
    """Dotted keys of the leaves of an output object; a secret is one leaf however it is shaped."""
    if isinstance(value, dict) and rpc._special_sig_key not in value:
        return set().union(*(output_keys(v, f"{prefix}.{k}" if prefix else k) for k, v in value.items()))
    return {prefix}


@pytest.fixture(scope="module")
def exported(dev_plan: PlanGraph, staging_plan: PlanGraph, prod_plan: PlanGraph) -> set[str]:
    return set().union(*(output_keys(plan.outputs) for plan in (dev_plan, staging_plan, prod_plan)))


def test_every_exported_output_is_documented(exported: set[str]) -> None:
    assert exported - set(STACK_OUTPUTS) == set(), "describe these in offline/config_doc.py STACK_OUTPUTS"


def test_every_documented_output_is_exported_by_a_shipped_stack(exported: set[str]) -> None:
    assert set(STACK_OUTPUTS) - exported == set(), "these are documented but no shipped stack exports them"


def test_each_output_says_when_it_exists_and_what_it_is_for() -> None:
    for key, (when, description) in STACK_OUTPUTS.items():
        assert when and description.endswith("."), key
