"""Extract the ArgoCD CRD schemas the k8s/ tests validate against, from an argo-helm checkout.

    git -C <argo-helm> show argo-cd-<chart version>:charts/argo-cd/templates/crds/crd-<kind>.yaml

Usage: python scripts/argocd_crd_schemas.py <argo-helm checkout> <argo-cd chart version>
Writes tests/eks_gitops/schemas/argocd-crds.json.gz: {"chartVersion": ..., "<Kind>": <openAPIV3Schema>}.
The chart version must be the one `eks.argocdChartVersion` pins (a test checks it).
"""

from __future__ import annotations

import gzip
import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

OUTPUT = Path(__file__).resolve().parents[1] / "tests" / "eks_gitops" / "schemas" / "argocd-crds.json.gz"
CRDS = {"Application": "application", "ApplicationSet": "applicationset", "AppProject": "appproject"}


def crd_schema(checkout: str, chart_version: str, file_kind: str) -> dict:
    path = f"argo-cd-{chart_version}:charts/argo-cd/templates/crds/crd-{file_kind}.yaml"
    git = shutil.which("git") or "git"
    # The arguments are a local checkout and a chart version given by the person running the script.
    text = subprocess.run([git, "-C", checkout, "show", path], capture_output=True, text=True, check=True).stdout  # noqa: S603
    # The chart wraps each CRD in Helm conditionals and labels: drop the template lines, keep the CRD.
    document = yaml.safe_load("\n".join(line for line in text.splitlines() if "{{" not in line))
    [version] = document["spec"]["versions"]
    return version["schema"]["openAPIV3Schema"]


def main(checkout: str, chart_version: str) -> None:
    schemas = {kind: crd_schema(checkout, chart_version, name) for kind, name in CRDS.items()}
    payload = json.dumps({"chartVersion": chart_version, **schemas}, sort_keys=True, separators=(",", ":"))
    OUTPUT.write_bytes(gzip.compress(payload.encode(), compresslevel=9, mtime=0))


if __name__ == "__main__":
    main(*sys.argv[1:3])
