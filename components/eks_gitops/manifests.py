"""The GitOps repository (`k8s/`) as data: templates filled with stack values, and facts read from overlays.

Templates use `${name}` placeholders only. A scalar that is exactly `${name}` is replaced by the value
itself (a list, a mapping, a bool or a Pulumi Output); a placeholder inside longer text is replaced by
text. Everything else (`{{ .Values }}`, `$slack-token`) is left for ArgoCD, ESO and the notifications
engine. A placeholder without a value, or a value no template uses, is an error: templates and code
cannot drift apart silently.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from components.templates import TemplateError, require_exact_values

K8S_ROOT = Path(__file__).resolve().parents[2] / "k8s"
OVERLAYS = K8S_ROOT / "apps" / "overlays"

_PLACEHOLDER = re.compile(r"\$\{([A-Za-z][A-Za-z0-9]*)\}")


def placeholders(path: Path) -> set[str]:
    """Names of the `${name}` placeholders a template uses."""
    return set(_PLACEHOLDER.findall(path.read_text()))


def _fill(node: Any, values: Mapping[str, Any], where: str) -> Any:
    if isinstance(node, dict):
        return {_fill(k, values, where): _fill(v, values, where) for k, v in node.items()}
    if isinstance(node, list):
        return [_fill(item, values, where) for item in node]
    if not isinstance(node, str):
        return node
    whole = _PLACEHOLDER.fullmatch(node)
    if whole:
        return values[whole.group(1)]

    def text(match: re.Match[str]) -> str:
        value = values[match.group(1)]
        if not isinstance(value, str):
            raise TemplateError(
                f"{where}: ${{{match.group(1)}}} sits inside text, so its value must be a string, got {value!r}"
            )
        return value

    return _PLACEHOLDER.sub(text, node)


def render(relative: str, values: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Load `k8s/<relative>` (one or more YAML documents) with its placeholders filled."""
    path = K8S_ROOT / relative
    require_exact_values(f"k8s/{relative}", placeholders(path), values)
    documents = [doc for doc in yaml.safe_load_all(path.read_text()) if doc is not None]
    return [_fill(doc, values, f"k8s/{relative}") for doc in documents]


def render_one(relative: str, values: Mapping[str, Any]) -> dict[str, Any]:
    """A template that holds exactly one document."""
    documents = render(relative, values)
    if len(documents) != 1:
        raise TemplateError(f"k8s/{relative}: expected one YAML document, found {len(documents)}")
    return documents[0]


def deep_merge(base: Mapping[str, Any], override: Mapping[str, Any]) -> dict[str, Any]:
    """Helm-style values merge: mappings merge key by key, anything else is replaced."""
    merged = dict(base)
    for key, value in override.items():
        if isinstance(value, Mapping) and isinstance(merged.get(key), Mapping):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def overlay_namespace(environment: str) -> str:
    """The namespace an environment's overlay deploys into (its kustomization's `namespace`)."""
    kustomization = OVERLAYS / environment / "kustomization.yaml"
    if not kustomization.exists():
        known = sorted(p.name for p in OVERLAYS.iterdir() if (p / "kustomization.yaml").exists())
        raise TemplateError(f"no overlay k8s/apps/overlays/{environment}; overlays in the repository: {known}")
    namespace = (yaml.safe_load(kustomization.read_text()) or {}).get("namespace")
    if not isinstance(namespace, str) or not namespace:
        raise TemplateError(f"k8s/apps/overlays/{environment}/kustomization.yaml sets no namespace")
    return namespace
