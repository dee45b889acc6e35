"""The GitOps repository: overlays render with `kubectl kustomize` and every object is safe and valid.

kubectl (with its built-in kustomize) is required: CI installs the Debian `kubernetes-client` package.
Core objects are validated offline by kubernetes-validate against the cluster's Kubernetes version.
"""

from __future__ import annotations

import functools
import json
import re
import shutil
import subprocess
import typing
from typing import Any

import kubernetes_validate
import pytest
import yaml

from components.eks_gitops import gitops, registry
from components.eks_gitops.args import EksGitOpsArgs, KubernetesVersion
from components.eks_gitops.manifests import K8S_ROOT, OVERLAYS, TemplateError, placeholders, render, render_one
from offline.mocks import ACCOUNT_ID
from tests.conftest import stack_config

ENVIRONMENTS = {"dev": "development", "staging": "staging", "prod": "production"}
CLUSTER_VERSION = f"{EksGitOpsArgs().kubernetes_version}.0"
# A stack may pick any version `eks.kubernetesVersion` accepts: the manifests must be valid on each of them.
SUPPORTED_VERSIONS = [f"{version}.0" for version in typing.get_args(KubernetesVersion)]
WAVE = "argocd.argoproj.io/sync-wave"
HOOK = "argocd.argoproj.io/hook"
WORKLOAD_KINDS = {"Deployment", "Service", "PodDisruptionBudget", "Job"}
# Kinds served by Kubernetes itself (kubernetes-validate has their schemas); CRDs are checked field by field.
CORE_GROUPS = {"v1", "apps/v1", "batch/v1", "policy/v1"}


MIN_KUSTOMIZE_MAJOR = 5  # overlays use `labels`, `replicas` and inline `patches` (kustomize v5, kubectl >= 1.27)


@functools.cache
def kubectl() -> str:
    """kubectl with a kustomize recent enough for the overlays; a clear failure otherwise, never a skip."""
    path = shutil.which("kubectl")
    if path is None:
        pytest.fail("kubectl is not installed: install kubectl >= 1.27 (see the EKS notes in .ci/run)")
    result = subprocess.run([path, "version", "--client", "-o", "json"], capture_output=True, text=True, check=False)
    version = json.loads(result.stdout or "{}")
    kustomize = version.get("kustomizeVersion", "")
    major = re.match(r"v(\d+)\.", kustomize)
    if major is None or int(major.group(1)) < MIN_KUSTOMIZE_MAJOR:
        client = version.get("clientVersion", {}).get("gitVersion", "?")
        pytest.fail(
            f"kubectl {client} embeds kustomize {kustomize or '< v4'}; the overlays need kustomize "
            f"v{MIN_KUSTOMIZE_MAJOR}+ (kubectl >= 1.27, e.g. from pkgs.k8s.io; Debian's kubernetes-client is too old)"
        )
    return path


@functools.cache
def overlay(env: str) -> list[dict[str, Any]]:
    """`kubectl kustomize k8s/apps/overlays/<env>`, parsed (once per environment)."""
    result = subprocess.run(
        [kubectl(), "kustomize", str(OVERLAYS / env)], capture_output=True, text=True, check=False, timeout=60
    )
    assert result.returncode == 0, f"kubectl kustomize k8s/apps/overlays/{env} failed:\n{result.stderr}"
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


@pytest.fixture(params=sorted(ENVIRONMENTS))
def rendered(request) -> tuple[str, list[dict[str, Any]]]:
    return request.param, overlay(request.param)


def pod_specs(objects: list[dict[str, Any]]) -> list[tuple[str, dict[str, Any]]]:
    pods = [o for o in objects if o["kind"] in {"Deployment", "Job"}]
    return [(o["metadata"]["name"], o["spec"]["template"]["spec"]) for o in pods]


def wave(obj: dict[str, Any]) -> int:
    return int(obj["metadata"].get("annotations", {}).get(WAVE, "0"))


def phase(obj: dict[str, Any]) -> str:
    return obj["metadata"].get("annotations", {}).get(HOOK, "Sync")


def test_every_overlay_renders_the_whole_application(rendered) -> None:
    env, objects = rendered
    kinds = sorted((o["kind"], o["metadata"]["name"]) for o in objects)
    assert kinds == [
        ("ConfigMap", "api-config"),
        ("Deployment", "api-service"),
        ("ExternalSecret", "api-secrets"),
        ("ExternalSecret", "db-migrate"),
        ("Job", "db-migrate"),
        ("PodDisruptionBudget", "api-service"),
        ("Service", "api-service"),
        ("ServiceAccount", "api-service"),
        ("ServiceAccount", "db-migrate"),
    ]
    assert {o["metadata"]["namespace"] for o in objects} == {ENVIRONMENTS[env]}


def test_core_objects_validate_against_every_cluster_version_the_config_accepts(rendered) -> None:
    _, objects = rendered
    core = [o for o in objects if o["apiVersion"] in CORE_GROUPS]
    assert len(core) == 7
    assert CLUSTER_VERSION in SUPPORTED_VERSIONS
    for version in SUPPORTED_VERSIONS:
        for obj in core:
            kubernetes_validate.validate(obj, version, strict=True)


def test_validation_would_catch_a_broken_object(rendered) -> None:
    _, objects = rendered
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    broken = {**deployment, "spec": {**deployment["spec"], "replicas": "five"}}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(broken, CLUSTER_VERSION, strict=True)


def test_external_secrets_read_the_environments_secret_through_the_cluster_store(rendered) -> None:
    env, objects = rendered
    external = [o for o in objects if o["kind"] == "ExternalSecret"]
    for obj in external:
        assert obj["apiVersion"] == "external-secrets.io/v1"
        spec = obj["spec"]
        assert spec["secretStoreRef"] == {"kind": "ClusterSecretStore", "name": "aws-secrets-manager"}
        assert spec["dataFrom"] == [{"extract": {"key": f"platform/{env}/api-service/database"}}]
        assert spec["target"]["creationPolicy"] == "Owner"
        assert set(spec["target"]["template"]["data"]) == {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_PASSWORD"}


def test_replicas_per_environment(rendered) -> None:
    env, objects = rendered
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["spec"]["replicas"] == {"dev": 1, "staging": 2, "prod": 5}[env]


def test_images_come_from_the_stacks_ecr_repository_and_never_float(rendered) -> None:
    """Each overlay pulls from the repository its environment's stack creates (components/eks_gitops/registry.py)."""
    env, objects = rendered
    region = stack_config(env)["aws:region"]
    repository = registry.repository_url(ACCOUNT_ID, region, registry.repository_name("platform", env))
    for name, spec in pod_specs(objects):
        for container in spec["containers"]:
            image = container["image"]
            assert re.fullmatch(rf"{re.escape(repository)}[:@].+", image), (name, image)
            assert not image.endswith(":latest") and ("@" in image or ":" in image.rsplit("/", 1)[1]), image


def test_prod_image_is_pinned_by_digest() -> None:
    images = {c["image"] for _, spec in pod_specs(overlay("prod")) for c in spec["containers"]}
    assert len(images) == 1
    assert re.fullmatch(r".+/platform-prod-eks-api-service@sha256:[0-9a-f]{64}", images.pop())


def test_environment_label_on_every_object(rendered) -> None:
    env, objects = rendered
    label = ENVIRONMENTS[env]
    for obj in objects:
        assert obj["metadata"]["labels"]["environment"] == label, obj["metadata"]["name"]
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    assert deployment["spec"]["template"]["metadata"]["labels"]["environment"] == label
    assert "environment" not in deployment["spec"]["selector"]["matchLabels"]


def test_sync_waves_put_secrets_before_config_before_workloads(rendered) -> None:
    _, objects = rendered
    for current_phase in {phase(o) for o in objects}:
        in_phase = [o for o in objects if phase(o) == current_phase]
        secrets = [wave(o) for o in in_phase if o["kind"] == "ExternalSecret"]
        config = [wave(o) for o in in_phase if o["kind"] in {"ConfigMap", "ServiceAccount"}]
        workloads = [wave(o) for o in in_phase if o["kind"] in WORKLOAD_KINDS]
        assert secrets and config and workloads, current_phase
        assert max(secrets) < min(config) <= max(config) < min(workloads), current_phase
    by_name = {(o["kind"], o["metadata"]["name"]): wave(o) for o in objects}
    assert by_name[("ExternalSecret", "api-secrets")] == -1
    assert by_name[("ConfigMap", "api-config")] == 0
    assert by_name[("Deployment", "api-service")] == 1


def test_migration_job_is_a_presync_hook_deleted_on_success(rendered) -> None:
    _, objects = rendered
    job = next(o for o in objects if o["kind"] == "Job")
    annotations = job["metadata"]["annotations"]
    assert annotations[HOOK] == "PreSync"
    assert annotations["argocd.argoproj.io/hook-delete-policy"] == "HookSucceeded"
    assert job["spec"]["backoffLimit"] == 3
    # Its credentials and account are hooks of the same phase, so they exist before it runs.
    spec = job["spec"]["template"]["spec"]
    helpers = [o for o in objects if o["metadata"]["name"] == "db-migrate" and o["kind"] != "Job"]
    assert {phase(o) for o in helpers} == {"PreSync"}
    assert spec["serviceAccountName"] == "db-migrate"
    assert spec["containers"][0]["envFrom"] == [{"secretRef": {"name": "db-migrate"}}]


def test_no_pod_runs_as_root_or_without_limits(rendered) -> None:
    _, objects = rendered
    specs = pod_specs(objects)
    assert len(specs) == 2
    for name, spec in specs:
        assert spec["securityContext"]["runAsNonRoot"] is True, name
        assert spec["securityContext"]["runAsUser"] > 0, name
        assert spec["automountServiceAccountToken"] is False, name
        for container in spec.get("initContainers", []) + spec["containers"]:
            context = container["securityContext"]
            assert context.get("runAsUser", 1) != 0, name
            assert context["allowPrivilegeEscalation"] is False, name
            assert context["readOnlyRootFilesystem"] is True, name
            assert context["capabilities"]["drop"] == ["ALL"], name
            resources = container["resources"]
            assert {"cpu", "memory"} <= set(resources["limits"]), name
            assert {"cpu", "memory"} <= set(resources["requests"]), name


def test_deployment_has_probes_and_its_service_account(rendered) -> None:
    _, objects = rendered
    deployment = next(o for o in objects if o["kind"] == "Deployment")
    spec = deployment["spec"]["template"]["spec"]
    [container] = spec["containers"]
    assert container["livenessProbe"]["httpGet"]["path"] == "/health"
    assert container["readinessProbe"]["httpGet"]["path"] == "/ready"
    assert container["resources"] == {
        "requests": {"cpu": "100m", "memory": "128Mi"},
        "limits": {"cpu": "500m", "memory": "512Mi"},
    }
    assert spec["serviceAccountName"] == "api-service"
    service = next(o for o in objects if o["kind"] == "Service")
    assert service["spec"]["selector"] == deployment["spec"]["selector"]["matchLabels"]


def test_no_secret_objects_are_committed(rendered) -> None:
    _, objects = rendered
    assert not [o for o in objects if o["kind"] == "Secret"]


def test_app_project_admits_every_kind_the_overlays_render(rendered) -> None:
    _, objects = rendered
    allowed = {
        (entry["group"], entry["kind"])
        for entry in gitops.app_project("git@github.com:o/r.git", [])["spec"]["namespaceResourceWhitelist"]
    }
    for obj in objects:
        group = obj["apiVersion"].rpartition("/")[0]
        assert (group, obj["kind"]) in allowed, obj["kind"]


# --- templates applied by the component ------------------------------------------------------------


def test_overlay_namespaces_are_read_from_the_kustomizations() -> None:
    assert {env: gitops.overlay_namespace(env) for env in ENVIRONMENTS} == ENVIRONMENTS


def test_an_environment_without_an_overlay_is_reported_with_the_known_ones() -> None:
    with pytest.raises(TemplateError, match=r"no overlay k8s/apps/overlays/qa; .*\['dev', 'prod', 'staging'\]"):
        gitops.overlay_namespace("qa")


def sample_metadata() -> gitops.ClusterMetadata:
    return gitops.ClusterMetadata(
        environment="dev",
        account_id="123456789012",
        region="eu-west-1",
        cluster_name="platform-dev-eks-cluster",
        vpc_id="vpc-0123456789abcdef0",
        external_secrets_role_arn="arn:aws:iam::123456789012:role/eso",  # pragma: allowlist secret
        node_role_arn="arn:aws:iam::123456789012:role/node",
        load_balancer_controller_role_arn="arn:aws:iam::123456789012:role/lbc",
        secrets_prefix="platform/dev/",  # pragma: allowlist secret
        repo_url="git@github.com:o/r.git",
        target_revision="main",
    )


OIDC_SAMPLE = {"issuer": "https://login.example.com", "client_id": "argocd", "client_secret_name": "argocd/oidc"}
TEMPLATES_APPLIED_BY_THE_COMPONENT = {
    "argocd/values.yaml",
    "argocd/cluster-secret.yaml",
    "argocd/appproject.yaml",
    "argocd/applicationset.yaml",
    "argocd/repository-externalsecret.yaml",
    "argocd/notifications-externalsecret.yaml",
    "argocd/oidc-externalsecret.yaml",
    "addons/external-secrets/values.yaml",
    "addons/external-secrets/cluster-secret-store.yaml",
    "addons/appproject.yaml",
    "addons/applicationset.yaml",
}


def test_every_template_placeholder_is_filled_by_the_component() -> None:
    args = EksGitOpsArgs(
        repo_url="git@github.com:o/r.git",
        argocd_hostname="a.example.com",
        argocd_certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8a9b-0c1d2e3f4a5b",
        external_dns={"hosted_zone_id": "Z0123456789ABCDEFGHIJ", "domain": "example.com"},
    )
    envs = gitops.gitops_environments(args, "dev")
    metadata = sample_metadata()
    documents = [
        gitops.argocd_values(args, high_availability=True),
        gitops.external_secrets_values("arn:role", high_availability=True),
        gitops.cluster_secret_store("eu-west-1", envs),
        gitops.cluster_secret(metadata),
        gitops.app_project("u", envs),
        gitops.application_set("u", "main", envs),
        gitops.repository_external_secret("u", "p/"),
        gitops.notifications_external_secret("p/"),
        gitops.oidc_external_secret("p/", EksGitOpsArgs(argocd_oidc=OIDC_SAMPLE).argocd_oidc),
        gitops.addons_app_project("u"),
        gitops.addons_application_set(args, "u"),
    ]
    rendered = {path.relative_to(K8S_ROOT).as_posix() for path in K8S_ROOT.glob("*/**/*.yaml") if placeholders(path)}
    assert rendered <= TEMPLATES_APPLIED_BY_THE_COMPONENT
    for document in documents:
        assert "${" not in yaml.safe_dump(document)


def test_a_template_and_its_values_must_match() -> None:
    with pytest.raises(TemplateError, match=r"placeholders without values \['slackSecretName'\]"):
        render("argocd/notifications-externalsecret.yaml", {})
    with pytest.raises(TemplateError, match=r"values without placeholders \['extra'\]"):
        render("argocd/notifications-externalsecret.yaml", {"slackSecretName": "s", "extra": 1})


def test_a_structured_value_cannot_be_pasted_into_text() -> None:
    with pytest.raises(TemplateError, match=r"\$\{developerGroup\} sits inside text"):
        render_one(
            "argocd/values.yaml",
            {
                "argocdDomain": "a",
                "serverInsecure": True,
                "localAdminEnabled": False,
                "rbacScopes": "[groups]",
                "appProject": "p",
                "developerGroup": ["not", "text"],
                "opsGroup": "o",
                "slackChannel": "c",
            },
        )


def test_templates_leave_argocd_and_eso_syntax_alone() -> None:
    assert placeholders(K8S_ROOT / "argocd" / "values.yaml") == {
        "argocdDomain",
        "serverInsecure",
        "localAdminEnabled",
        "rbacScopes",
        "appProject",
        "developerGroup",
        "opsGroup",
        "slackChannel",
    }
    appset = gitops.application_set("u", "main", [])
    assert appset["spec"]["template"]["metadata"]["name"] == "api-service-{{.env}}"


def test_custom_resources_applied_by_the_component_use_current_api_versions() -> None:
    envs = [gitops.GitOpsEnvironment("dev", "development")]
    versions = {
        gitops.cluster_secret_store("eu-west-1", envs)["apiVersion"],
        gitops.repository_external_secret("u", "p/")["apiVersion"],
        gitops.notifications_external_secret("p/")["apiVersion"],
    }
    assert versions == {"external-secrets.io/v1"}
    assert gitops.app_project("u", envs)["apiVersion"] == "argoproj.io/v1alpha1"
    assert gitops.application_set("u", "main", envs)["apiVersion"] == "argoproj.io/v1alpha1"


def test_cluster_secret_template_is_a_valid_core_secret() -> None:
    metadata = sample_metadata()
    kubernetes_validate.validate(gitops.cluster_secret(metadata), CLUSTER_VERSION, strict=True)
