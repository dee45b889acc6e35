"""Suite-wide fixtures: the real program evaluated per stack under the recording mocks.

The suite runs on every core (`-n auto --dist loadgroup` in pyproject.toml). The shipped stacks' plans
are evaluated once per run and shared by the xdist workers; the tests on local Spark share one JVM by
running on one worker (see pytest_collection_modifyitems).
"""

from __future__ import annotations

import fcntl
import os
import pickle
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from typing import Any, TypeVar

import pytest
from _pytest.nodeid import coerce_node_id
from moto import mock_aws

from offline.runner import PlanGraph, merge_config, read_stack_config, run_program
from tests.least_privilege import recorder

PlanFactory = Callable[..., PlanGraph]


def pytest_configure(config: pytest.Config) -> None:
    """Every run records the AWS calls handlers make and what the Glue entry scripts read and write, for the
    least-privilege checks (tests/least_privilege/recorder.py)."""
    config.pluginmanager.register(recorder, "least-privilege-recorder")


# Credentials moto accepts and no real account does, so a test can never reach AWS.
FAKE_CREDENTIALS = {
    "AWS_ACCESS_KEY_ID": "testing",
    "AWS_SECRET_ACCESS_KEY": "testing",  # pragma: allowlist secret
    "AWS_SESSION_TOKEN": "testing",
}


@contextmanager
def moto_account(monkeypatch: pytest.MonkeyPatch, region: str) -> Iterator[None]:
    """An in-process moto account with fake credentials and `region` as the default region."""
    for key, value in {**FAKE_CREDENTIALS, "AWS_DEFAULT_REGION": region}.items():
        monkeypatch.setenv(key, value)
    with mock_aws():
        yield


def stack_config(stack: str) -> dict[str, Any]:
    """Config of a shipped stack: `Pulumi.<stack>.yaml` at the repository root (dev, staging, prod, review)."""
    return read_stack_config(stack)


SPARK_GROUP = "spark"


def join_group(item: pytest.Item, group: str) -> None:
    """Put a test in an xdist_group, which --dist loadgroup runs on one worker.

    pytest-xdist 3.8 tells its scheduler a test's group by renaming the test `<id>@<group>` through
    `Node._nodeid`, which pytest 9.2 no longer reads (pytest-xdist#1386): rename it through `Node._id`
    ourselves, as the proposed fix does. tests/platform/test_pinned_internals.py says when to drop this.
    """
    item.add_marker(pytest.mark.xdist_group(group))
    if getattr(item.config.option, "loadgroup", False) and not item.nodeid.endswith(f"@{group}"):
        item._id = coerce_node_id(f"{item.nodeid}@{group}")


# Tests reading what the handler and Glue entry-script tests recorded (tests/least_privilege/recorder.py)
# wait for those tests.
AFTER_HANDLER_TESTS = "recording"


def is_spark(item: pytest.Item) -> bool:
    return SPARK_GROUP in getattr(item, "fixturenames", ())


@pytest.hookimpl(tryfirst=True)
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """A test on local Spark is marked `spark` and joins the `spark` group: one JVM for the run instead
    of one per worker (each start costs seconds and about 1 GB). Tests that read the handler tests'
    recorded calls run last, so whichever worker runs one waits only on tests already handed out."""
    for item in items:
        if is_spark(item):
            item.add_marker(pytest.mark.spark)
            join_group(item, SPARK_GROUP)
    # The Spark group (the longest run on one worker) starts first, so the other worker never waits for it
    # at the end; the tests reading the records come last.
    items.sort(key=lambda item: (AFTER_HANDLER_TESTS in getattr(item, "fixturenames", ()), not is_spark(item)))


DESELECTED = pytest.StashKey[list[pytest.Item]]()


def pytest_deselected(items: list[pytest.Item]) -> None:
    """Remembered so the least-privilege checks know whether this run's record is complete."""
    if items:
        items[0].config.stash.setdefault(DESELECTED, []).extend(items)


T = TypeVar("T")


def once_per_run(tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[], T]) -> T:
    """`build()` evaluated by the first xdist worker that needs it and unpickled by the others, through the
    run's shared temporary directory (a fresh one per run, so nothing is reused across runs)."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build()
    shared = tmp_path_factory.getbasetemp().parent
    cached = shared / f"{name}.pickle"
    with (shared / f"{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if cached.exists():
            return pickle.loads(cached.read_bytes())  # written by this run's own workers
        graph = build()
        cached.write_bytes(pickle.dumps(graph))
        return graph


@pytest.fixture(scope="session")
def dev_plan(tmp_path_factory: pytest.TempPathFactory) -> PlanGraph:
    return once_per_run(tmp_path_factory, "dev-plan", lambda: run_program("dev"))


@pytest.fixture(scope="session")
def prod_plan(tmp_path_factory: pytest.TempPathFactory) -> PlanGraph:
    return once_per_run(tmp_path_factory, "prod-plan", lambda: run_program("prod"))


@pytest.fixture(scope="session")
def staging_plan(tmp_path_factory: pytest.TempPathFactory) -> PlanGraph:
    return once_per_run(tmp_path_factory, "staging-plan", lambda: run_program("staging", stack_config("staging")))


@pytest.fixture
def plan_with() -> PlanFactory:
    """Build a stack with config overrides: `plan_with("dev", {"platform:featureStore": {...}})`."""

    def build(stack: str = "dev", overrides: Mapping[str, Any] | None = None) -> PlanGraph:
        return run_program(stack, merge_config(stack_config(stack), overrides or {}))

    return build
