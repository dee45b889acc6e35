"""The README's configuration reference, generated from the config models so it is never stale.

python -m offline.config_doc            # print the table
python -m offline.config_doc --write    # refresh it in README.md between the markers
"""

from __future__ import annotations

import argparse
import enum
import json
import re
import sys
import types
import typing
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from pydantic_core import PydanticUndefined

from components.config import StackConfig

README = Path(__file__).resolve().parent.parent / "README.md"
START, END = "<!-- config-reference:start -->", "<!-- config-reference:end -->"
INTERNAL = {"project", "stack"}


def _type_name(annotation: Any) -> str:
    origin = typing.get_origin(annotation)
    args = typing.get_args(annotation)
    if origin is typing.Literal:
        return " \\| ".join(str(a) for a in args)
    if origin is typing.Annotated:
        return _type_name(args[0])
    if origin in (list, tuple, set, frozenset):
        return f"list of {_type_name(args[0])}" if args else "list"
    if origin is dict:
        return f"map of {_type_name(args[1])}" if args else "map"
    if origin in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in args if a is not type(None)) + (
            " (optional)" if type(None) in args else ""
        )
    if isinstance(annotation, type):
        if issubclass(annotation, enum.Enum):
            return " \\| ".join(str(m.value) for m in annotation)
        return {"str": "string", "int": "integer", "bool": "boolean", "float": "number"}.get(
            annotation.__name__, annotation.__name__
        )
    return str(annotation)


def _nested_model(annotation: Any) -> type[BaseModel] | None:
    for candidate in (annotation, *typing.get_args(annotation)):
        if isinstance(candidate, type) and issubclass(candidate, BaseModel):
            return candidate
    return None


def _default(info: Any) -> str:
    if info.is_required():
        return "required"
    value = info.get_default(call_default_factory=True)
    if isinstance(value, BaseModel):
        return "(section)"
    if value is None or value is PydanticUndefined:
        return "-"
    if isinstance(value, enum.Enum):
        value = value.value
    return f"`{json.dumps(value, default=str)}`"


def _first_line(text: str | None) -> str:
    return (text or "").strip().splitlines()[0] if text and text.strip() else ""


def rows(model: type[BaseModel] = StackConfig, prefix: str = "") -> list[tuple[str, str, str, str]]:
    found: list[tuple[str, str, str, str]] = []
    for name, info in model.model_fields.items():
        if not prefix and name in INTERNAL:
            continue
        alias = info.alias or name
        key = f"{prefix}{alias}" if prefix else ("aws:region" if name == "region" else f"platform:{alias}")
        nested = _nested_model(info.annotation)
        description = info.description or (_first_line(nested.__doc__) if nested else "")
        if nested is not None and typing.get_origin(info.annotation) is not list:
            found.append((key, "object", _default(info), description))
            found.extend(rows(nested, f"{key}."))
        else:
            found.append((key, _type_name(info.annotation), _default(info), description))
    return found


def table() -> str:
    lines = ["| key | type | default | description |", "|---|---|---|---|"]
    pipe = "\\|"
    lines += [f"| `{k}` | {t} | {d} | {desc.replace('|', pipe)} |" for k, t, d, desc in rows()]
    return "\n".join(lines)


def refreshed(readme: str) -> str:
    pattern = re.compile(re.escape(START) + ".*?" + re.escape(END), re.S)
    if not pattern.search(readme):
        raise ValueError(f"README.md lacks the {START} ... {END} markers")
    return pattern.sub(lambda _: f"{START}\n{table()}\n{END}", readme)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args()
    if args.write:
        README.write_text(refreshed(README.read_text()))
    else:
        print(table())
    return 0


if __name__ == "__main__":
    sys.exit(main())
