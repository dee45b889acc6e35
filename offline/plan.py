"""`make plan`: what `pulumi preview` would create for a stack, computed offline.

    python -m offline.plan --stack prod [--json plan.json]

Evaluates the real program with the recording mocks (no credentials, no network), prints the
component tree and the count per resource type, runs the policy pack (policy/) over the recorded
resources, prints each violation with its remediation and each waiver, and ends with
`plan <stack>: <N> resources, <M> policy violations`. A configuration error prints every validation
message and exits 2; a mandatory policy violation that no waiver covers exits 1.
"""

from __future__ import annotations

import argparse
import gc
import json
import sys
from collections import Counter
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pulumi
from pulumi.runtime import rpc

from components.config import ConfigError
from offline.checkov_plan import CheckovSetupError, checkov_step
from offline.mocks import RecordedResource
from offline.policy_run import PolicyConfigError, evaluate, waivers_of
from offline.policy_run import render as render_policy_report
from offline.runner import PlanGraph, read_stack_config, run_program
from offline.stack_file import StackFileError


def jsonable(value: Any) -> Any:
    """Resolved inputs as plain JSON; assets and archives become their paths or texts."""
    if isinstance(value, dict):
        if rpc._special_sig_key in value:  # a secret envelope: shown as preview shows it
            return "[secret]"
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if isinstance(value, pulumi.FileAsset):
        return {"asset": {"path": value.path}}
    if isinstance(value, pulumi.StringAsset):
        return {"asset": {"text": value.text}}
    if isinstance(value, pulumi.FileArchive):
        return {"archive": {"path": value.path}}
    if isinstance(value, pulumi.AssetArchive):
        return {"archive": {"assets": {k: jsonable(v) for k, v in sorted(value.assets.items())}}}
    return str(value)


def plan_document(graph: PlanGraph) -> dict[str, Any]:
    return {
        "stack": graph.stack,
        "resources": [
            {
                "urn": r.urn,
                "type": r.type,
                "name": r.name,
                "parent": r.parent,
                "protect": r.protect,
                "provider": r.provider,
                "inputs": jsonable(r.inputs),
            }
            for r in graph.resources
        ],
    }


def render_tree(graph: PlanGraph) -> list[str]:
    by_parent: dict[str, list[RecordedResource]] = {}
    known = {r.urn for r in graph.resources}
    for resource in graph.resources:
        parent = resource.parent if resource.parent in known else ""
        by_parent.setdefault(parent, []).append(resource)
    lines: list[str] = []

    def walk(parent: str, depth: int) -> None:
        for resource in sorted(by_parent.get(parent, []), key=lambda r: (r.custom, r.type, r.name)):
            marker = " [protect]" if resource.protect else ""
            lines.append(f"{'  ' * depth}+ {resource.type} {resource.name}{marker}")
            walk(resource.urn, depth + 1)

    walk("", 0)
    return lines


def render_counts(graph: PlanGraph) -> list[str]:
    counts = Counter(r.type for r in graph.resources)
    width = max((len(t) for t in counts), default=0)
    return [f"  {t.ljust(width)}  {n}" for t, n in sorted(counts.items())]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="make plan", description=__doc__.splitlines()[0])
    parser.add_argument("--stack", default="dev", help="stack name; reads Pulumi.<stack>.yaml (default: dev)")
    parser.add_argument("--json", type=Path, help="also write the resolved plan as JSON to this file")
    parser.add_argument("--config-file", type=Path, help="read the config from this file (as `pulumi --config-file`)")
    args = parser.parse_args(argv)
    try:
        config = read_stack_config(args.stack, args.config_file)
        graph = run_program(args.stack, config)
        report = evaluate(graph, waivers_of(config))
    except FileNotFoundError as error:
        print(f"plan {args.stack}: {error}", file=sys.stderr)
        return 2
    except (StackFileError, ConfigError, pulumi.RunError, PolicyConfigError) as error:
        print(f"plan {args.stack}: {error}", file=sys.stderr)
        return 2
    print(f"Resources of stack {args.stack!r} (what `pulumi preview` would create):")
    print("\n".join(render_tree(graph)))
    print("\nCount per resource type:")
    print("\n".join(render_counts(graph)))
    if args.json:
        args.json.write_text(json.dumps(plan_document(graph), indent=2, sort_keys=True) + "\n")
        print(f"\nwrote {args.json}")
    print()
    print("\n".join(render_policy_report(report)))
    print(f"plan {args.stack}: {len(graph.resources)} resources, {len(report.violations)} policy violations")
    try:
        checkov_lines, checkov_exit = checkov_step(graph)
    except CheckovSetupError as error:
        print(f"checkov {args.stack}: {error}", file=sys.stderr)
        return 2
    print("\n" + "\n".join(checkov_lines))
    return max(1 if report.mandatory else 0, checkov_exit)


if __name__ == "__main__":
    # A plan is one short process that allocates millions of small objects, most of them while the
    # provider SDKs import; the cyclic collector would rescan them again and again (about a third of
    # the run) to free almost nothing. Reference counting still frees everything acyclic. (Only here:
    # tests call main() in a long-lived process.)
    gc.disable()
    sys.exit(main())
