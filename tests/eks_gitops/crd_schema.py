"""Validate ArgoCD custom resources against the CRD schemas of the pinned argo-cd chart.

The schemas are extracted from argo-helm by scripts/argocd_crd_schemas.py. Like the API server with field
validation `Strict`, an object with a field the schema does not declare is refused, unless the schema
preserves unknown fields there.
"""

from __future__ import annotations

import functools
import gzip
import json
from pathlib import Path
from typing import Any

import jsonschema

SCHEMAS = Path(__file__).parent / "schemas" / "argocd-crds.json.gz"
PRESERVE = "x-kubernetes-preserve-unknown-fields"


@functools.cache
def _bundle() -> dict[str, Any]:
    return json.loads(gzip.decompress(SCHEMAS.read_bytes()))


def chart_version() -> str:
    return _bundle()["chartVersion"]


def _strict(schema: Any) -> Any:
    if isinstance(schema, list):
        return [_strict(item) for item in schema]
    if not isinstance(schema, dict):
        return schema
    strict = {key: _strict(value) for key, value in schema.items()}
    if "properties" in strict and "additionalProperties" not in strict and not strict.get(PRESERVE):
        strict["additionalProperties"] = False
    return strict


@functools.cache
def _validator(kind: str) -> jsonschema.Draft7Validator:
    return jsonschema.Draft7Validator(_strict(_bundle()[kind]))


def errors(document: dict[str, Any]) -> list[str]:
    """Every schema violation of an ArgoCD object, as `path: message`."""
    found = _validator(document["kind"]).iter_errors(document)
    return sorted(f"{'.'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}" for e in found)
