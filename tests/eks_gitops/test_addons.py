"""The cluster-addons ApplicationSet (k8s/addons/) and every ArgoCD object, checked against the CRD schemas.

Each Application the ApplicationSet generates is rebuilt here as ArgoCD does (the generator's template merged
over `spec.template`, Go templates filled from the cluster secret the component writes) and validated too.
"""

from __future__ import annotations

import dataclasses
import json
import re
from pathlib import Path
from typing import Any

import jsonschema
import pytest
import yaml

from components.eks_gitops import gitops
from components.eks_gitops.args import EksGitOpsArgs
from components.eks_gitops.manifests import K8S_ROOT, deep_merge
from tests.eks_gitops.crd_schema import chart_version, errors
from tests.eks_gitops.test_manifests import sample_metadata

REPO = "git@github.com:example-org/platform.git"
ARGS = EksGitOpsArgs(repo_url=REPO)
ENVS = [gitops.GitOpsEnvironment("dev", "development")]
ZONE = {"hosted_zone_id": "Z0123456789ABCDEFGHIJ", "domain": "platform.example.com"}
DNS_ROLE = "arn:aws:iam::123456789012:role/platform-dev-eks-external-dns"
# charts/external-dns/values.schema.json of kubernetes-sigs/external-dns at tag external-dns-helm-chart-1.21.1.
EXTERNAL_DNS_SCHEMA = Path(__file__).parent / "schemas" / "external-dns-1.21.1.values.schema.json"
_GO_EXPRESSION = re.compile(r"\{\{\s*(.*?)\s*\}\}")
_INDEX = re.compile(r'^index \.metadata\.annotations "([a-z_]+)"$')


def addons() -> dict[str, Any]:
    return gitops.addons_application_set(ARGS, REPO)


def cluster_secret(*, with_dns: bool) -> dict[str, Any]:
    """The cluster secret the component writes, for a stack with or without an external-dns zone."""
    metadata = sample_metadata()
    if with_dns:
        zone = EksGitOpsArgs(external_dns=ZONE).external_dns
        metadata = dataclasses.replace(metadata, external_dns=zone, external_dns_role_arn=DNS_ROLE)
    return gitops.cluster_secret(metadata)


def _go_value(expression: str, params: dict[str, Any]) -> str:
    annotation = _INDEX.match(expression)
    if annotation:
        return params["metadata"]["annotations"][annotation.group(1)]  # missingkey=error
    value: Any = params
    for part in expression.removeprefix(".").split("."):
        value = value[part]
    return value


def _fill(node: Any, params: dict[str, Any]) -> Any:
    if isinstance(node, dict):
        return {key: _fill(value, params) for key, value in node.items()}
    if isinstance(node, list):
        return [_fill(item, params) for item in node]
    if isinstance(node, str):
        return _GO_EXPRESSION.sub(lambda m: _go_value(m.group(1), params), node)
    return node


def _selected(generator: dict[str, Any], secret: dict[str, Any]) -> bool:
    wanted = generator.get("selector", {}).get("matchLabels", {})
    return all(secret["metadata"]["labels"].get(k) == v for k, v in wanted.items())


def generated_applications(secret: dict[str, Any]) -> list[dict[str, Any]]:
    """The Applications ArgoCD makes from the ApplicationSet for one cluster secret."""
    appset = addons()
    applications = []
    for generator in appset["spec"]["generators"]:
        clusters = generator["clusters"]
        if not _selected(clusters, secret):
            continue
        params = {
            "name": secret["stringData"]["name"],
            "server": secret["stringData"]["server"],
            "metadata": {"labels": secret["metadata"]["labels"], "annotations": secret["metadata"]["annotations"]},
            "values": clusters["values"],
        }
        # ArgoCD merges the generator's template over spec.template; empty values do not override.
        template = deep_merge(appset["spec"]["template"], _non_empty(clusters["template"]))
        applications.append({"apiVersion": "argoproj.io/v1alpha1", "kind": "Application", **_fill(template, params)})
    return applications


def _non_empty(node: Any) -> Any:
    if isinstance(node, dict):
        return {k: _non_empty(v) for k, v in node.items() if v not in ({}, [], "", None)}
    return node


@pytest.fixture(params=[True, False], ids=["with-external-dns", "without-external-dns"])
def applications(request) -> list[dict[str, Any]]:
    return generated_applications(cluster_secret(with_dns=request.param))


def by_addon(apps: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    return {app["metadata"]["labels"]["addon"]: app for app in apps}


# --- schemas --------------------------------------------------------------------------------------------


def test_schemas_come_from_the_pinned_charts() -> None:
    assert chart_version() == ARGS.argocd_chart_version
    assert EXTERNAL_DNS_SCHEMA.name == f"external-dns-{ARGS.external_dns_chart_version}.values.schema.json"


@pytest.mark.parametrize(
    "document",
    [
        addons(),
        gitops.addons_app_project(REPO),
        gitops.application_set(REPO, "main", ENVS),
        gitops.app_project(REPO, ENVS),
    ],
    ids=["addons-applicationset", "addons-appproject", "apps-applicationset", "apps-appproject"],
)
def test_argocd_objects_applied_by_the_component_match_their_crd(document: dict[str, Any]) -> None:
    assert errors(document) == []


def test_schema_validation_would_catch_a_misspelt_field() -> None:
    broken = addons()
    broken["spec"]["strategy"]["rollingSync"]["step"] = broken["spec"]["strategy"]["rollingSync"].pop("steps")
    assert errors(broken) == [
        "spec.strategy.rollingSync: Additional properties are not allowed ('step' was unexpected)"
    ]


def test_every_generated_application_matches_the_application_crd(applications) -> None:
    assert applications
    for app in applications:
        assert errors(app) == [], app["metadata"]["name"]
        assert "{{" not in yaml.safe_dump(app)


# --- the gitops bridge ------------------------------------------------------------------------------------


def test_every_generator_reads_registered_clusters() -> None:
    generators = addons()["spec"]["generators"]
    assert [set(g) for g in generators] == [{"clusters"}] * 3
    everywhere = [g["clusters"]["values"]["addon"] for g in generators if "selector" not in g["clusters"]]
    assert everywhere == ["aws-load-balancer-controller", "metrics-server"]


def test_annotations_the_addons_read_are_written_on_the_cluster_secret() -> None:
    text = (K8S_ROOT / "addons" / "applicationset.yaml").read_text()
    read = set(re.findall(r'index \.metadata\.annotations "([a-z_]+)"', text))
    written = set(cluster_secret(with_dns=True)["metadata"]["annotations"])
    assert read == {
        "aws_cluster_name",
        "aws_region",
        "aws_vpc_id",
        "aws_load_balancer_controller_iam_role_arn",
        "external_dns_domain",
        "external_dns_hosted_zone_id",
        "external_dns_iam_role_arn",
    }
    assert read <= written


def test_load_balancer_controller_gets_the_cluster_facts_and_its_role(applications) -> None:
    app = by_addon(applications)["aws-load-balancer-controller"]
    chart, values_ref = app["spec"]["sources"]
    assert chart["repoURL"] == "https://aws.github.io/eks-charts"
    assert chart["targetRevision"] == ARGS.load_balancer_controller_chart_version == "1.14.0"
    assert chart["helm"]["valuesObject"] == {
        "clusterName": "platform-dev-eks-cluster",
        "region": "eu-west-1",
        "vpcId": "vpc-0123456789abcdef0",
        "serviceAccount": {"annotations": {"eks.amazonaws.com/role-arn": "arn:aws:iam::123456789012:role/lbc"}},
    }
    assert chart["helm"]["valueFiles"] == ["$values/k8s/addons/aws-load-balancer-controller/values.yaml"]
    assert values_ref == {"repoURL": REPO, "targetRevision": "main", "ref": "values"}
    assert app["spec"]["destination"] == {"server": "https://kubernetes.default.svc", "namespace": "kube-system"}


def test_external_dns_only_where_a_zone_is_configured_limited_to_it() -> None:
    assert "external-dns" not in by_addon(generated_applications(cluster_secret(with_dns=False)))
    app = by_addon(generated_applications(cluster_secret(with_dns=True)))["external-dns"]
    chart = app["spec"]["sources"][0]
    assert chart["targetRevision"] == ARGS.external_dns_chart_version == "1.21.1"
    values = chart["helm"]["valuesObject"]
    assert values["domainFilters"] == ["platform.example.com"]
    assert values["extraArgs"] == ["--zone-id-filter=Z0123456789ABCDEFGHIJ"]  # pragma: allowlist secret
    assert values["txtOwnerId"] == "platform-dev-eks-cluster"
    assert values["serviceAccount"]["annotations"] == {"eks.amazonaws.com/role-arn": DNS_ROLE}
    assert app["spec"]["destination"]["namespace"] == "external-dns"


def test_value_files_exist_and_are_plain_values(applications) -> None:
    for app in applications:
        for source in app["spec"]["sources"]:
            for path in source.get("helm", {}).get("valueFiles", []):
                file = K8S_ROOT.parent / path.removeprefix("$values/")
                assert file.exists(), path
                assert "${" not in file.read_text() and "{{" not in file.read_text(), path
                assert isinstance(yaml.safe_load(file.read_text()), dict)


def test_controller_syncs_and_is_healthy_before_addons_that_create_services(applications) -> None:
    waves = {name: int(app["metadata"]["labels"]["addon-wave"]) for name, app in by_addon(applications).items()}
    assert waves["aws-load-balancer-controller"] < min(
        w for n, w in waves.items() if n != "aws-load-balancer-controller"
    )
    for app in applications:
        assert app["metadata"]["annotations"]["argocd.argoproj.io/sync-wave"] == app["metadata"]["labels"]["addon-wave"]
    strategy = addons()["spec"]["strategy"]
    assert strategy["type"] == "RollingSync"
    steps = [s["matchExpressions"] for s in strategy["rollingSync"]["steps"]]
    assert steps == [[{"key": "addon-wave", "operator": "In", "values": [str(w)]}] for w in (0, 1)]
    # RollingSync only runs with progressive syncs switched on in ArgoCD.
    params = gitops.argocd_values(ARGS, high_availability=False)["configs"]["params"]
    assert params["applicationsetcontroller.enable.progressive.syncs"] is True


def test_load_balancer_controller_and_metrics_server_run_two_replicas() -> None:
    lbc = yaml.safe_load((K8S_ROOT / "addons/aws-load-balancer-controller/values.yaml").read_text())
    assert lbc["replicaCount"] == 2 and lbc["podDisruptionBudget"] == {"maxUnavailable": 1}
    metrics = yaml.safe_load((K8S_ROOT / "addons/metrics-server/values.yaml").read_text())
    assert metrics["replicas"] == 2 and metrics["podDisruptionBudget"]["enabled"] is True


def test_addons_project_admits_exactly_the_sources_and_namespaces_the_addons_use(applications) -> None:
    project = gitops.addons_app_project(REPO)["spec"]
    repos = {s["repoURL"] for app in applications for s in app["spec"]["sources"]}
    assert repos <= set(project["sourceRepos"])
    namespaces = {
        app["spec"]["destination"]["namespace"] for app in generated_applications(cluster_secret(with_dns=True))
    }
    assert namespaces == {d["namespace"] for d in project["destinations"]}
    assert all(app["spec"]["project"] == gitops.ADDONS_PROJECT for app in applications)


def test_external_dns_values_match_the_charts_schema() -> None:
    """external-dns ships values.schema.json: the merged values must satisfy it (Helm refuses them otherwise)."""
    schema = json.loads(EXTERNAL_DNS_SCHEMA.read_text())
    app = by_addon(generated_applications(cluster_secret(with_dns=True)))["external-dns"]
    values = deep_merge(
        yaml.safe_load((K8S_ROOT / "addons/external-dns/values.yaml").read_text()),
        app["spec"]["sources"][0]["helm"]["valuesObject"],
    )
    jsonschema.Draft7Validator(schema).validate(values)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.Draft7Validator(schema).validate({**values, "policy": "delete-everything"})


# --- ArgoCD login ---------------------------------------------------------------------------------------

OIDC = {
    "name": "IAM Identity Center",
    "issuer": "https://login.platform.example.com",
    "client_id": "argocd-prod",
    "client_secret_name": "argocd/oidc",  # pragma: allowlist secret
    "groups_claim": "groups",
}


def test_sso_replaces_the_local_admin_and_its_secret_is_a_reference() -> None:
    args = EksGitOpsArgs(repo_url=REPO, argocd_oidc=OIDC)
    cm = gitops.argocd_values(args, high_availability=True)["configs"]["cm"]
    assert cm["admin.enabled"] is False
    oidc = yaml.safe_load(cm["oidc.config"])
    assert oidc == {
        "name": "IAM Identity Center",
        "issuer": "https://login.platform.example.com",
        "clientID": "argocd-prod",
        "clientSecret": "$argocd-oidc:clientSecret",
        "requestedScopes": ["openid", "profile", "email", "groups"],
        "requestedIDTokenClaims": {"groups": {"essential": True}},
    }
    rbac = gitops.argocd_values(args, high_availability=True)["configs"]["rbac"]
    assert rbac["scopes"] == "[groups]"
    assert "g, ops-team, role:ops" in rbac["policy.csv"]


def test_without_sso_the_local_admin_stays_and_no_oidc_config_is_written() -> None:
    cm = gitops.argocd_values(ARGS, high_availability=False)["configs"]["cm"]
    assert cm == {"admin.enabled": True}


def test_oidc_client_secret_reaches_argocd_through_eso() -> None:
    oidc = EksGitOpsArgs(repo_url=REPO, argocd_oidc=OIDC).argocd_oidc
    secret = gitops.oidc_external_secret("platform/prod/", oidc)
    assert secret["apiVersion"] == "external-secrets.io/v1"
    assert secret["metadata"] == {"name": gitops.OIDC_SECRET, "namespace": "argocd"}
    oidc_key = "platform/prod/argocd/oidc"  # pragma: allowlist secret
    remote = {"key": oidc_key, "property": "clientSecret"}  # pragma: allowlist secret
    assert secret["spec"]["data"] == [{"secretKey": "clientSecret", "remoteRef": remote}]  # pragma: allowlist secret
    # ArgoCD only resolves `$<secret>:<key>` from Secrets labelled as part of ArgoCD.
    assert secret["spec"]["target"]["template"]["metadata"]["labels"] == {"app.kubernetes.io/part-of": "argocd"}


def test_cluster_secret_labels_external_dns_only_where_it_is_configured() -> None:
    assert cluster_secret(with_dns=False)["metadata"]["labels"]["enable_external_dns"] == "false"
    assert cluster_secret(with_dns=False)["metadata"]["annotations"]["external_dns_iam_role_arn"] == ""
    with_dns = cluster_secret(with_dns=True)["metadata"]
    assert with_dns["labels"]["enable_external_dns"] == "true"
    assert with_dns["annotations"]["external_dns_hosted_zone_id"] == "Z0123456789ABCDEFGHIJ"
    with pytest.raises(ValueError, match="both its hosted zone and its role"):
        gitops.cluster_secret(dataclasses.replace(sample_metadata(), external_dns_role_arn=DNS_ROLE))
