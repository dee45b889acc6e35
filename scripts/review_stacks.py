"""Review stacks (`pr-<number>`): their config from the template, their PR comment, and which ones expired.

    python -m scripts.review_stacks config pr-42              # write Pulumi.pr-42.yaml from Pulumi.review.yaml
    pulumi stack output --json | python -m scripts.review_stacks comment pr-42 > comment.md
    pulumi stack ls --json | python -m scripts.review_stacks expired --max-age-days 7 --organization acme

Standard library only: the review workflow writes the config before the program's venv exists.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = ROOT / "Pulumi.review.yaml"
REVIEW_STACK = re.compile(r"^pr-[1-9][0-9]{0,6}$")
QUALIFIED_REVIEW_STACK = re.compile(r"(?:^|/)(pr-[1-9][0-9]{0,6})$")
MARKER = "<!-- review-stack:{stack} -->"


def review_stack(name: str) -> str:
    """`name` if it is a review stack name (`pr-<number>`, at most 7 digits); ValueError otherwise."""
    if not REVIEW_STACK.match(name):
        raise ValueError(f"{name!r} is not a review stack name: expected pr-<pull request number>, e.g. pr-42")
    return name


def write_config(stack: str, root: Path = ROOT) -> Path:
    """Copy the review template to `Pulumi.<stack>.yaml`, the stack file Pulumi reads for that stack."""
    target = root / f"Pulumi.{review_stack(stack)}.yaml"
    target.write_text((root / TEMPLATE.name).read_text())
    return target


def _flatten(value: Any, prefix: str = "") -> Iterable[tuple[str, Any]]:
    if isinstance(value, Mapping) and value:
        for key in sorted(value):
            yield from _flatten(value[key], f"{prefix}.{key}" if prefix else str(key))
    else:
        yield prefix, value


def _cell(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True)
    return "`" + text.replace("`", "'").replace("|", "\\|").replace("\n", " ") + "`"


def comment(stack: str, outputs: Mapping[str, Any]) -> str:
    """The PR comment: a marker the workflow finds the comment by, then one table row per output leaf."""
    lines = [
        MARKER.format(stack=review_stack(stack)),
        f"### Review stack `{stack}` is up",
        "",
        "Destroyed when this pull request closes, or after a week without updates.",
        "",
    ]
    rows = list(_flatten(outputs))
    if not rows or rows == [("", {})]:
        lines.append("The stack exports no outputs.")
        return "\n".join(lines) + "\n"
    lines += ["| output | value |", "|---|---|"]
    lines += [f"| `{key}` | {_cell(value)} |" for key, value in rows]
    return "\n".join(lines) + "\n"


def _last_update(entry: Mapping[str, Any]) -> datetime | None:
    raw = entry.get("lastUpdate")
    if not raw:
        return None
    stamp = datetime.fromisoformat(str(raw).replace("Z", "+00:00"))
    return stamp if stamp.tzinfo else stamp.replace(tzinfo=UTC)


def expired(stacks: Sequence[Mapping[str, Any]], *, max_age_days: int, now: datetime, organization: str) -> list[str]:
    """Review stacks not updated for `max_age_days` (or never updated), qualified as `<org>/pr-<n>`.

    Stacks other than review stacks are never returned, nor stacks with an update in progress."""
    if max_age_days < 1:
        raise ValueError(f"max age {max_age_days} days: must be at least 1")
    cutoff = now - timedelta(days=max_age_days)
    found: list[str] = []
    for entry in stacks:
        name = str(entry.get("name", ""))
        match = QUALIFIED_REVIEW_STACK.search(name)
        if match is None or entry.get("updateInProgress"):
            continue
        updated = _last_update(entry)
        if updated is None or updated < cutoff:
            found.append(name if "/" in name else f"{organization}/{match.group(1)}")
    return found


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m scripts.review_stacks", description=__doc__.splitlines()[0])
    commands = parser.add_subparsers(dest="command", required=True)
    commands.add_parser("config", help="write Pulumi.<stack>.yaml from Pulumi.review.yaml").add_argument("stack")
    commands.add_parser("comment", help="render `pulumi stack output --json` (stdin) as markdown").add_argument("stack")
    reap = commands.add_parser("expired", help="names of expired review stacks in `pulumi stack ls --json` (stdin)")
    reap.add_argument("--max-age-days", type=int, required=True)
    reap.add_argument("--organization", required=True)
    args = parser.parse_args(argv)
    try:
        if args.command == "config":
            print(f"wrote {write_config(args.stack).name}")
        elif args.command == "comment":
            sys.stdout.write(comment(args.stack, json.load(sys.stdin)))
        else:
            names = expired(
                json.load(sys.stdin),
                max_age_days=args.max_age_days,
                now=datetime.now(UTC),
                organization=args.organization,
            )
            sys.stdout.write("".join(f"{name}\n" for name in names))
    except ValueError as error:
        print(f"review_stacks {args.command}: {error}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
