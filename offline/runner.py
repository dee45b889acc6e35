"""Evaluate the real `__main__.py` for one stack under the recording mocks, with no cloud and no CLI."""

from __future__ import annotations

import json
import runpy
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pulumi
import yaml
from pulumi.runtime import settings as pulumi_settings
from pulumi.runtime.config import set_all_config
from pulumi.runtime.stack import run_in_stack
from pulumi.runtime.sync_await import _sync_await

from components.config import ConfigError
from offline.mocks import RecordedResource, RecordingMocks, RecordingMonitor
from offline.stack_file import read_config

ROOT = Path(__file__).resolve().parent.parent
PROJECT = yaml.safe_load((ROOT / "Pulumi.yaml").read_text())["name"]


@dataclass
class PlanGraph:
    """The recorded resource graph of one evaluation of the program."""

    stack: str
    resources: list[RecordedResource]
    outputs: dict[str, Any]

    def of_type(self, type_token: str) -> list[RecordedResource]:
        return [r for r in self.resources if r.type == type_token]

    def one(self, type_token: str, name: str | None = None) -> RecordedResource:
        """The single resource of a type (and logical name, or name suffix); fails loudly otherwise."""
        found = [r for r in self.of_type(type_token) if name is None or r.name == name or r.name.endswith(f"-{name}")]
        if len(found) != 1:
            names = [r.name for r in self.of_type(type_token)]
            raise LookupError(f"expected one {type_token} named {name!r}, found {len(found)} among {names}")
        return found[0]

    def by_urn(self, urn: str) -> RecordedResource:
        for resource in self.resources:
            if resource.urn == urn:
                return resource
        raise LookupError(urn)

    def children(self, parent: RecordedResource) -> list[RecordedResource]:
        return [r for r in self.resources if r.parent == parent.urn]

    def descendants(self, parent: RecordedResource) -> list[RecordedResource]:
        found: list[RecordedResource] = []
        frontier = [parent.urn]
        while frontier:
            urn = frontier.pop()
            for r in self.resources:
                if r.parent == urn:
                    found.append(r)
                    frontier.append(r.urn)
        return found

    def component_of(self, resource: RecordedResource, component_type: str) -> RecordedResource | None:
        """The nearest ancestor of the given component type."""
        urns = {r.urn: r for r in self.resources}
        current = urns.get(resource.parent)
        while current is not None:
            if current.type == component_type:
                return current
            current = urns.get(current.parent)
        return None

    def provider_inputs(self, resource: RecordedResource) -> dict[str, Any]:
        """The inputs of the explicit provider a resource is bound to ({} for the default provider)."""
        urn = resource.provider_urn
        return self.by_urn(urn).inputs if urn and any(r.urn == urn for r in self.resources) else {}


def stack_file(stack: str) -> Path:
    return ROOT / f"Pulumi.{stack}.yaml"


def read_stack_config(stack: str, path: Path | None = None) -> dict[str, Any]:
    """The `config:` mapping of `Pulumi.<stack>.yaml` (or of `path`), as written (nested values stay nested).

    Raises StackFileError (`file:line:col: message`) for a file the Pulumi CLI would refuse."""
    path = path or stack_file(stack)
    if not path.exists():
        raise FileNotFoundError(f"no stack file {path.name}: create it to add the {stack!r} stack")
    return read_config(path)


def _qualify(key: str) -> str:
    return key if ":" in key else f"{PROJECT}:{key}"


def flatten_config(config: Mapping[str, Any]) -> dict[str, str]:
    """Turn stack-file config into the `namespace:key -> string` map the Pulumi engine hands a program.

    Objects and lists travel as JSON, booleans as `true`/`false`, like `pulumi config` does.
    """
    flat: dict[str, str] = {}
    for key, value in config.items():
        if isinstance(value, Mapping) and "secure" in value and len(value) == 1:
            raise ConfigError([f"{key}: encrypted values cannot be read offline; set a plain test value instead"])
        if value is None:
            flat[_qualify(key)] = "null"
        elif isinstance(value, (Mapping, list)):
            flat[_qualify(key)] = json.dumps(value, default=str)
        elif isinstance(value, bool):
            flat[_qualify(key)] = "true" if value else "false"
        else:
            flat[_qualify(key)] = str(value)
    return flat


def merge_config(base: Mapping[str, Any], overrides: Mapping[str, Any]) -> dict[str, Any]:
    """Deep-merge overrides into stack config; a value of None removes the key."""
    merged: dict[str, Any] = dict(base)
    for key, value in overrides.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = merge_config(merged[key], value)
        else:
            merged[key] = value
    return merged


ORGANIZATION = "organization"


def run_program(
    stack: str,
    config: Mapping[str, Any] | None = None,
    *,
    secret_keys: list[str] | None = None,
    program: Callable[[], object] | None = None,
    project: str = PROJECT,
) -> PlanGraph:
    """Run `__main__.py` (or `program`) for `stack`, config from its stack file unless given, and return
    what it declared. `project` names another Pulumi project of the repository (e.g. bootstrap/)."""
    stack_config = dict(config) if config is not None else read_stack_config(stack)
    flat = flatten_config(stack_config)
    region = flat.get("aws:region", "us-east-1")
    mocks = RecordingMocks(default_region=region)
    monitor = RecordingMonitor(mocks)
    # "organization" is what Pulumi names the organization of a self-managed backend's stacks.
    pulumi.runtime.set_mocks(
        mocks, project=project, stack=stack, preview=False, monitor=monitor, organization=ORGANIZATION
    )
    set_all_config(flat, secret_keys or [])
    # set_mocks registers a finished root stack; run in a fresh one so exports are recorded too.
    pulumi_settings.ROOT.set(None)
    pulumi_settings.SETTINGS.rpc_manager.clear()
    pulumi_settings.SETTINGS.outputs.clear()
    main = str(ROOT / "__main__.py")
    _sync_await(run_in_stack(program or (lambda: runpy.run_path(main, run_name="__main__"))))
    return PlanGraph(stack=stack, resources=monitor.records, outputs=monitor.stack_outputs)
