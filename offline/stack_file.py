"""Read `Pulumi.<stack>.yaml` as the Pulumi CLI does, and refuse what it refuses, as `file:line:col: message`.

The CLI rejects a key given twice, a document that is not a mapping and a `config:` that is not one;
`make plan` also cannot decrypt `secure:` values or resolve ESC environments, so it says so at the line
that holds them instead of failing later with a traceback.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml
from yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

# Top-level keys of a Pulumi stack settings file.
STACK_FILE_KEYS = ("config", "encryptedkey", "encryptionsalt", "environment", "secretsprovider")


class StackFileError(Exception):
    """A stack file the CLI would refuse or `make plan` cannot read, with where and why."""

    def __init__(self, path: Path, mark: yaml.Mark | None, message: str) -> None:
        self.location = f"{path.name}:{mark.line + 1}:{mark.column + 1}" if mark else path.name
        self.message = message
        super().__init__(f"{self.location}: {message}")


class _DuplicateKey(yaml.MarkedYAMLError):
    pass


class _StrictLoader(yaml.SafeLoader):
    """SafeLoader that refuses a key given twice in one mapping (PyYAML silently keeps the last)."""

    def construct_mapping(self, node: MappingNode, deep: bool = False) -> dict[Any, Any]:
        seen: dict[Any, yaml.Mark] = {}
        for key_node, _ in node.value:
            key = self.construct_object(key_node, deep=True)
            try:
                first = seen.setdefault(key, key_node.start_mark)
            except TypeError:
                continue  # an unhashable key: the base class reports it with its position
            if first is not key_node.start_mark:
                raise _DuplicateKey(
                    problem=f"key {key!r} given twice (first on line {first.line + 1}); keep one",
                    problem_mark=key_node.start_mark,
                )
        return super().construct_mapping(node, deep=deep)


# Read scalars as the Pulumi CLI's YAML 1.2 reader does: only true/false are booleans (`yes`, `on`, `no`
# stay text) and dates stay text, not datetime objects no config value can hold.
_BOOL, _TIMESTAMP = "tag:yaml.org,2002:bool", "tag:yaml.org,2002:timestamp"
_StrictLoader.yaml_implicit_resolvers = {
    first: [(tag, pattern) for tag, pattern in resolvers if tag not in (_BOOL, _TIMESTAMP)]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}
_StrictLoader.add_implicit_resolver(_BOOL, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))


def _kind(node: Node) -> str:
    if isinstance(node, MappingNode):
        return "a mapping"
    if isinstance(node, SequenceNode):
        return "a list"
    return "null" if node.tag.endswith(":null") else f"the value {node.value!r}"[:80]


def _is_null(node: Node) -> bool:
    return isinstance(node, ScalarNode) and node.tag.endswith(":null")


def _encrypted_values(node: Node, path: str) -> Iterator[tuple[str, Node]]:
    """`{secure: <ciphertext>}` mappings anywhere under a config value, as the CLI writes secrets."""
    if isinstance(node, MappingNode):
        keys = [k.value for k, _ in node.value if isinstance(k, ScalarNode)]
        if keys == ["secure"]:
            yield path, node
            return
        for key_node, value_node in node.value:
            yield from _encrypted_values(value_node, f"{path}.{key_node.value}")
    elif isinstance(node, SequenceNode):
        for index, item in enumerate(node.value):
            yield from _encrypted_values(item, f"{path}[{index}]")


def _parse(path: Path) -> tuple[Node | None, Any]:
    raw = path.read_bytes()
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n")
        column = error.start - (raw.rfind(b"\n", 0, error.start) + 1)
        mark = yaml.Mark(path.name, error.start, line, column, None, None)
        raise StackFileError(path, mark, "not UTF-8 text") from None
    loader = _StrictLoader(text)
    try:
        node = loader.get_single_node()
        return node, (loader.construct_document(node) if node is not None else None)
    except _DuplicateKey as error:
        raise StackFileError(path, error.problem_mark, str(error.problem)) from None
    except yaml.MarkedYAMLError as error:
        mark = error.problem_mark or error.context_mark
        context = f" ({error.context})" if error.context and error.problem_mark else ""
        raise StackFileError(path, mark, f"invalid YAML: {error.problem or error.context}{context}") from None
    except yaml.YAMLError as error:
        raise StackFileError(path, None, f"invalid YAML: {error}") from None
    finally:
        loader.dispose()


def read_config(path: Path) -> dict[str, Any]:
    """The `config:` mapping of a stack file, as written (nested values stay nested)."""
    root, document = _parse(path)
    if root is None or document is None:
        return {}
    if not isinstance(root, MappingNode):
        found = _kind(root)
        raise StackFileError(path, root.start_mark, f"a stack file is a mapping with a config: key, found {found}")
    config_node: Node | None = None
    for key_node, value_node in root.value:
        key = key_node.value if isinstance(key_node, ScalarNode) else None
        if key not in STACK_FILE_KEYS:
            allowed = ", ".join(STACK_FILE_KEYS)
            message = f"unknown top-level key {key!r}; a stack file holds {allowed}"
            raise StackFileError(path, key_node.start_mark, message)
        if key == "environment" and not _is_null(value_node):
            raise StackFileError(
                path,
                value_node.start_mark,
                "environment: Pulumi ESC environments cannot be resolved offline; put the values under config:",
            )
        if key == "config":
            config_node = value_node
    if config_node is None or _is_null(config_node):
        return {}
    if not isinstance(config_node, MappingNode):
        raise StackFileError(
            path, config_node.start_mark, f"config: must be a mapping of keys to values, found {_kind(config_node)}"
        )
    for key_node, value_node in config_node.value:
        key = key_node.value
        if not isinstance(key_node, ScalarNode) or not key_node.tag.endswith(":str") or key.count(":") > 1:
            raise StackFileError(
                path, key_node.start_mark, f"config key {str(key)[:60]!r} is not of the form <namespace>:<name>"
            )
        for where, node in _encrypted_values(value_node, key):
            raise StackFileError(
                path,
                node.start_mark,
                f"{where}: an encrypted (secure:) value cannot be decrypted offline; plan a copy of the stack "
                "file holding a plain placeholder instead (make plan ... CONFIG_FILE=<copy>)",
            )
    return dict(document["config"])
