"""Canary: the private APIs that offline/ and the tests' emulators reach into are still where we use them.

constraints.txt pins the packages exactly. When a pin is bumped, these tests say precisely which internal
moved (and which of our files relies on it) instead of the mocks or emulators failing somewhere deep.
"""

from __future__ import annotations

import importlib
import inspect
import keyword
import re
from collections.abc import Callable
from contextvars import ContextVar
from importlib import metadata

import pytest

from offline.mocks import OUTPUT_BUILDERS, RecordingMocks
from offline.runner import ROOT

PINS = dict(
    line.split("==")
    for line in (ROOT / "constraints.txt").read_text().splitlines()
    if line.strip() and not line.startswith("#")
)


@pytest.mark.parametrize("package", sorted(PINS))
def test_installed_versions_are_the_pinned_ones(package: str) -> None:
    installed = metadata.version(package)
    assert installed == PINS[package], (
        f"{package} {installed} is installed but constraints.txt pins {PINS[package]}: reinstall with "
        "`pip install -r requirements-dev.txt`, or bump the pin once this file's other tests pass on it"
    )


def attribute(path: str) -> object:
    """`package.module:Name.attr` resolved, failing with the path that moved."""
    module_name, _, qualname = path.partition(":")
    try:
        found: object = importlib.import_module(module_name)
    except ImportError as error:
        pytest.fail(f"module {module_name} is gone ({error})")
    for part in qualname.split(".") if qualname else []:
        if not hasattr(found, part):
            pytest.fail(f"{path}: {part!r} is gone")
        found = getattr(found, part)
    return found


def parameters(function: Callable[..., object]) -> list[str]:
    return list(inspect.signature(function).parameters)


def takes(*names: str) -> Callable[[object], bool]:
    return lambda function: parameters(function) == list(names)  # type: ignore[arg-type]


def takes_at_least(*names: str) -> Callable[[object], bool]:
    return lambda function: set(names) <= set(parameters(function))  # type: ignore[arg-type]


def source_has(*snippets: str) -> Callable[[object], bool]:
    return lambda found: all(s in inspect.getsource(found) for s in snippets)  # type: ignore[arg-type]


RUNNER, MOCKS, EMULATOR = "offline/runner.py", "offline/mocks.py", "tests/order_workflow/emulator.py"
RETRIER = "moto.stepfunctions.parser.asl.component.common.retry.retrier_decl"
# (internal, who relies on it, what must hold)
INTERNALS: list[tuple[str, str, Callable[[object], bool]]] = [
    ("pulumi.runtime:set_mocks", RUNNER, takes_at_least("mocks", "project", "stack", "preview", "monitor")),
    ("pulumi.runtime.mocks:MockMonitor.__init__", MOCKS, takes("self", "mocks")),
    ("pulumi.runtime.mocks:MockMonitor.RegisterResource", MOCKS, takes("self", "request")),
    ("pulumi.runtime.mocks:MockMonitor.RegisterResourceOutputs", MOCKS, takes("self", "request")),
    ("pulumi.runtime.mocks:MockResourceArgs", MOCKS, takes_at_least("typ", "name", "inputs", "provider")),
    ("pulumi.runtime.mocks:MockCallArgs", MOCKS, takes_at_least("token", "args", "provider")),
    ("pulumi.runtime.rpc:_special_sig_key", "offline/plan.py", lambda key: key == "4dabf18193072939515e22adb298388d"),
    ("pulumi.runtime.rpc:deserialize_properties", MOCKS, callable),
    ("pulumi.runtime.rpc:get_resource_module", f"{MOCKS} (_references_as_ids)", callable),
    ("pulumi.runtime.rpc:get_resource_package", f"{MOCKS} (_references_as_ids)", callable),
    ("pulumi.runtime.settings:ROOT", RUNNER, lambda root: isinstance(root, ContextVar)),
    ("pulumi.runtime.settings:SETTINGS.rpc_manager.clear", RUNNER, callable),
    ("pulumi.runtime.settings:SETTINGS.outputs.clear", RUNNER, callable),
    ("pulumi.runtime.config:set_all_config", RUNNER, takes("config", "secret_keys")),
    ("pulumi.runtime.config:CONFIG.get", "components/config.py", callable),
    ("pulumi.runtime.config:get_config_env", "components/config.py", callable),
    ("pulumi.runtime.stack:run_in_stack", RUNNER, callable),
    ("pulumi.runtime.sync_await:_sync_await", RUNNER, callable),
    ("pulumi_policy.deserialize:deserialize_properties", "offline/policy_run.py", callable),
    ("pulumi_policy.deserialize:serialize_properties", "offline/policy_run.py", callable),
    ("pulumi_policy.proxy:unknown_checking_proxy", "offline/policy_run.py", callable),
    (
        "moto.awslambda_simple.models:LambdaSimpleBackend.invoke",
        f"{EMULATOR} (_invoke_in_process)",
        takes("self", "function_name", "qualifier", "body", "headers", "response_headers"),
    ),
    ("moto.awslambda.models:LambdaFunction", EMULATOR, source_has("self.environment_vars =", "self.handler =")),
    ("moto.dynamodb.responses:DynamoHandler.call_action", f"{EMULATOR} (_serialised)", takes("self")),
    (f"{RETRIER}:time", f"{EMULATOR} (_RecordedSleeps)", lambda _: source_has("time.sleep(")(attribute(RETRIER))),
    ("moto.rds.models:RDSBackend.promote_read_replica", "tests/backup_vault", takes("self", "db_kwargs")),
    ("moto.dynamodb.models:DynamoDBBackend.update_item", "tests/feature_store/test_enrich.py", callable),
    (
        "moto.sagemakerruntime.models:sagemakerruntime_backends",
        "tests/feature_store/test_predict.py",
        lambda backends: backends["123456789012"]["us-east-1"] is not None,  # type: ignore[index]
    ),
]


@pytest.mark.parametrize(("path", "user", "holds"), INTERNALS, ids=[path for path, _, _ in INTERNALS])
def test_internal_is_where_we_use_it(path: str, user: str, holds: Callable[[object], bool]) -> None:
    assert holds(attribute(path)), f"{path} changed shape; adapt {user} to it before bumping constraints.txt"


def test_xdist_still_needs_our_loadgroup_workaround() -> None:
    import _pytest.nodes
    import xdist.remote

    assert "self._id = coerce_node_id(nodeid)" in inspect.getsource(_pytest.nodes.Node.__init__), (
        "pytest no longer keeps node ids in Node._id: adapt join_group in tests/conftest.py"
    )
    assert 'item._nodeid = f"{item.nodeid}@' in inspect.getsource(xdist.remote), (
        "pytest-xdist changed how it tags grouped tests (pytest-xdist#1386 fixed?): drop the renaming in "
        "join_group, tests/conftest.py, if --dist loadgroup now groups on its own"
    )


def test_the_recording_monitor_reads_these_request_fields() -> None:
    from pulumi.runtime.proto import resource_pb2

    fields = resource_pb2.RegisterResourceRequest.DESCRIPTOR.fields_by_name
    used = {"type", "name", "parent", "custom", "remote", "protect", "provider", "dependencies", "object"}
    assert used <= set(fields), f"RegisterResourceRequest lost {used - set(fields)}: adapt offline/mocks.py"
    assert fields["protect"].has_presence, "protect is no longer optional: offline/mocks.py reads it with HasField"


def test_a_mock_monitor_keeps_its_registrations_in_resources() -> None:
    from pulumi.runtime.mocks import MockMonitor

    monitor = MockMonitor(RecordingMocks("us-east-1"))
    assert isinstance(getattr(monitor, "resources", None), dict), "MockMonitor.resources moved: adapt offline/mocks.py"


def registered_token(cls: type) -> str | None:
    """The type token a generated SDK class registers its resources under."""
    init = vars(cls).get("_internal_init", cls.__init__)
    found = re.search(r"__init__\(\s*'([a-z]+:[^']+)'", inspect.getsource(init))
    return found[1] if found else None


@pytest.mark.parametrize("token", sorted(OUTPUT_BUILDERS))
def test_every_type_the_mocks_answer_is_still_that_sdk_class(token: str) -> None:
    package, path, name = token.split(":")
    submodule = path.split("/")[0] if "/" in path else ""
    submodule += "_" if keyword.iskeyword(submodule) else ""  # pulumi_aws.lambda_
    cls = attribute(f"pulumi_{package}{'.' + submodule if submodule else ''}:{name}")
    assert isinstance(cls, type), token
    assert registered_token(cls) == token, (
        f"{cls.__module__}.{name} no longer registers {token!r}: adapt OUTPUT_BUILDERS in offline/mocks.py"
    )


def test_the_eks_outputs_the_program_reads_are_sdk_outputs_the_mock_answers() -> None:
    import pulumi_eks

    source = inspect.getsource(pulumi_eks.Cluster)
    sdk_outputs = set(re.findall(r'@pulumi\.getter\(name="(\w+)"\)', source)) | set(
        re.findall(r"@pulumi\.getter\n    def (\w+)", source)
    )
    from pulumi.runtime.mocks import MockResourceArgs

    args = MockResourceArgs("eks:index:Cluster", "eks-cluster", {}, "", "", False)
    _, mocked = RecordingMocks("us-east-1").new_resource(args)
    read = {"kubeconfig", "kubeconfigJson", "oidcProviderArn", "oidcIssuer"}
    assert read <= sdk_outputs, f"pulumi_eks.Cluster lost outputs {read - sdk_outputs}: adapt components/eks_gitops"
    assert read <= set(mocked), f"the eks mock does not answer {read - mocked}: adapt offline/mocks.py"


def test_kubernetes_resources_keep_their_type_tokens() -> None:
    import pulumi_kubernetes

    assert registered_token(pulumi_kubernetes.helm.v3.Release) == "kubernetes:helm.sh/v3:Release"
    assert registered_token(pulumi_kubernetes.core.v1.Secret) == "kubernetes:core/v1:Secret"
