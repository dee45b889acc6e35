"""The account bootstrap (bootstrap/) under the recording mocks: who may assume each role, what each role
may do, the state backend, the account-wide settings, the config errors, and the platform's policy pack."""

from __future__ import annotations

import json
from typing import Any

import pulumi
import pytest
import yaml

from bootstrap.config import BACKUP_RESOURCE_TYPES
from bootstrap.permissions import Protected, document, pack, preview_statements
from components.backup_vault.compliance import REPORTS_ROLE
from components.iam import PolicyError, Statement
from offline.mocks import ACCOUNT_ID
from offline.policy_run import evaluate
from offline.runner import ROOT, PlanGraph, read_stack_config, run_program
from policy.policies.base import is_wildcard_action
from policy.policies.waivers import Waivers
from tests.bootstrap.conftest import PROJECT, BootstrapPlan, bootstrap_config, role, role_policies

REPO = "example-org/platform"
OIDC_ARN = f"arn:aws:iam::{ACCOUNT_ID}:oidc-provider/token.actions.githubusercontent.com"
ROLE = "aws:iam/role:Role"
WRITE_VERBS = (
    "Create", "Delete", "Put", "Update", "Modify", "Attach", "Detach", "Tag", "Untag", "Pass", "Add", "Remove",
    "Set", "Start", "Stop", "Invoke", "Publish", "Send", "Encrypt", "ReEncrypt", "Generate", "Schedule", "Enable",
    "Disable", "Associate", "Disassociate", "Authorize", "Revoke", "Register", "Deregister", "Restore", "Replace",
    "Run", "Terminate", "Upload", "Copy", "Import", "Reset", "Cancel", "Promote", "Reboot", "Subscribe",
    "Unsubscribe", "Allocate", "Release", "Write", "Batch", "Abort", "Complete", "Restart", "Apply", "Execute",
)  # fmt: skip
READ_VERBS = ("Describe", "Get", "List")


def allows(policy: dict) -> list[dict]:
    return [s for s in policy["Statement"] if s["Effect"] == "Allow"]


def as_list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


def actions(policy: dict) -> list[str]:
    return [a for s in allows(policy) for a in as_list(s["Action"])]


def condition(trust: dict) -> dict:
    [statement] = trust["Statement"]
    assert statement["Principal"] == {"Federated": OIDC_ARN}
    assert statement["Action"] == "sts:AssumeRoleWithWebIdentity"
    assert list(statement["Condition"]) == ["StringEquals"], "exact subjects only: no StringLike, no wildcards"
    return statement["Condition"]["StringEquals"]


# --- trust ---------------------------------------------------------------------------------------


def test_the_github_oidc_provider_trusts_the_sts_audience(bootstrap_plan: PlanGraph) -> None:
    provider = bootstrap_plan.one("aws:iam/openIdConnectProvider:OpenIdConnectProvider")
    assert provider.inputs["url"] == "https://token.actions.githubusercontent.com"
    assert provider.inputs["clientIdLists"] == ["sts.amazonaws.com"]
    assert provider.protect
    assert bootstrap_plan.outputs["githubOidcProviderArn"] == OIDC_ARN


def test_the_preview_role_trusts_only_pull_requests_of_the_repository(bootstrap_plan: PlanGraph) -> None:
    trust, _ = role(bootstrap_plan, "preview")
    assert condition(trust) == {
        "token.actions.githubusercontent.com:aud": "sts.amazonaws.com",
        "token.actions.githubusercontent.com:sub": [f"repo:{REPO}:pull_request"],
    }


def test_the_deploy_role_trusts_only_the_main_branch_and_the_production_environment(bootstrap_plan: PlanGraph) -> None:
    trust, _ = role(bootstrap_plan, "deploy")
    assert condition(trust)["token.actions.githubusercontent.com:sub"] == [
        f"repo:{REPO}:ref:refs/heads/main",
        f"repo:{REPO}:environment:production",
    ]
    assert condition(trust)["token.actions.githubusercontent.com:aud"] == "sts.amazonaws.com"


def test_the_review_role_trusts_only_the_review_environment(bootstrap_plan: PlanGraph) -> None:
    trust, _ = role(bootstrap_plan, "review")
    assert condition(trust)["token.actions.githubusercontent.com:sub"] == [f"repo:{REPO}:environment:review"]


def test_the_trust_follows_the_configured_repository_branch_and_environments(bootstrap_with: BootstrapPlan) -> None:
    plan = bootstrap_with(
        {
            f"{PROJECT}:githubRepository": "acme/infra.platform",
            f"{PROJECT}:mainBranch": "trunk",
            f"{PROJECT}:productionEnvironment": "prod-approval",
            f"{PROJECT}:reviewEnvironment": "pr-stacks",
        }
    )
    subjects = {name: condition(role(plan, name)[0])["token.actions.githubusercontent.com:sub"] for name in
                ("preview", "deploy", "review")}  # fmt: skip
    assert subjects == {
        "preview": ["repo:acme/infra.platform:pull_request"],
        "deploy": [
            "repo:acme/infra.platform:ref:refs/heads/trunk",
            "repo:acme/infra.platform:environment:prod-approval",
        ],
        "review": ["repo:acme/infra.platform:environment:pr-stacks"],
    }


DEPLOYER_ROLE = f"arn:aws:iam::{ACCOUNT_ID}:role/platform-prod-eks-deployer-3f2a1b"


def test_no_deployer_is_trusted_unless_configured(bootstrap_plan: PlanGraph) -> None:
    assert "deployerRoleArns" not in json.dumps(bootstrap_config())
    for name in ("preview", "deploy", "review"):
        trust, _ = role(bootstrap_plan, name)
        assert len(trust["Statement"]) == 1, name


def test_the_deploy_and_preview_roles_trust_the_configured_in_vpc_deployers(bootstrap_with: BootstrapPlan) -> None:
    plan = bootstrap_with({f"{PROJECT}:deployerRoleArns": [DEPLOYER_ROLE]})
    for name in ("deploy", "preview"):
        trust, _ = role(plan, name)
        github, deployer = trust["Statement"]
        assert github["Principal"] == {"Federated": OIDC_ARN} and "Condition" in github
        assert deployer == {
            "Sid": "InVpcDeployers",
            "Effect": "Allow",
            "Principal": {"AWS": [DEPLOYER_ROLE]},
            "Action": "sts:AssumeRole",
        }
    review_trust, _ = role(plan, "review")
    assert [s["Principal"] for s in review_trust["Statement"]] == [{"Federated": OIDC_ARN}]


def test_a_deployer_that_is_not_a_role_arn_is_refused(bootstrap_with: BootstrapPlan) -> None:
    with pytest.raises(
        pulumi.RunError, match=r"deployerRoleArns: .*not IAM role ARNs: \['platform-prod-eks-deployer'\]"
    ):
        bootstrap_with({f"{PROJECT}:deployerRoleArns": ["platform-prod-eks-deployer", DEPLOYER_ROLE]})


def test_the_workflows_use_the_environments_the_roles_trust() -> None:
    workflows = ROOT / ".github" / "workflows"
    deploy = yaml.safe_load((workflows / "deploy.yml").read_text())["jobs"]
    assert deploy["prod"]["with"]["environment"] == bootstrap_config().get(
        f"{PROJECT}:productionEnvironment", "production"
    )
    review = yaml.safe_load((workflows / "review-stack.yml").read_text())["jobs"]
    assert {job["environment"] for job in review.values()} == {"review"}
    assert yaml.safe_load((workflows / "deploy.yml").read_text())[True]["push"]["branches"] == ["main"]


# --- what each role may do -----------------------------------------------------------------------


def test_the_preview_role_cannot_write(bootstrap_plan: PlanGraph) -> None:
    _, policy = role(bootstrap_plan, "preview")
    # Not even the in-VPC deployer's builds: a started build could be told to deploy (IAM cannot limit its
    # settings), so only the deploy role may start one.
    granted = [a for s in allows(policy) for a in as_list(s["Action"])]
    assert not [a for a in granted if a.startswith("codebuild:")]
    assert granted, "the preview role needs its reads"
    for action in granted:
        verb = action.split(":")[1]
        assert not verb.startswith(WRITE_VERBS), action
        assert verb.startswith(READ_VERBS) or action == "kms:Decrypt", action
        assert "*" not in verb, f"{action}: a family could grow into writes"
    assert not [s for s in policy["Statement"] if s["Effect"] == "Deny"], "nothing to deny: nothing is allowed"


def state_bucket_arn(plan: PlanGraph) -> str:
    return plan.one("aws:s3/bucket:Bucket", "state-bucket").outputs["arn"]


def test_the_preview_role_reads_exactly_the_state_and_the_programs_data_sources(bootstrap_plan: PlanGraph) -> None:
    _, policy = role(bootstrap_plan, "preview")
    bucket = state_bucket_arn(bootstrap_plan)
    key = bootstrap_plan.one("aws:kms/key:Key").outputs["arn"]
    assert {s["Sid"]: (s["Action"], s["Resource"]) for s in policy["Statement"]} == {
        "ProgramDataSources": ("ec2:DescribeAvailabilityZones", "*"),
        "ReadState": (["s3:GetObject", "s3:ListBucket"], [bucket, f"{bucket}/*"]),
        "DecryptStackSecrets": (["kms:Decrypt", "kms:DescribeKey"], key),
    }


def scoped_resources(policy: dict) -> list[tuple[str, str]]:
    return [(s["Sid"], r) for s in allows(policy) for r in as_list(s["Resource"])]


@pytest.mark.parametrize(("name", "names"), [("deploy", "platform"), ("review", "platform-pr")])
def test_managing_roles_name_their_actions_and_stay_in_the_account_and_the_platforms_names(
    bootstrap_plan: PlanGraph, name: str, names: str
) -> None:
    _, policy = role(bootstrap_plan, name)
    assert not [a for a in actions(policy) if is_wildcard_action(a)]
    for sid, resource in scoped_resources(policy):
        if resource == "*":
            assert sid == "AccountWideCalls"
            continue
        in_account = f":{ACCOUNT_ID}:" in resource
        global_name = resource.startswith(f"arn:aws:s3:::{names}-") or resource.startswith("arn:aws:s3:::account-")
        api_gateway = resource.startswith("arn:aws:apigateway:*::/")  # API ARNs carry no account
        health_checks = resource == "arn:aws:route53:::healthcheck/*"  # global, by id
        assert in_account or global_name or api_gateway or health_checks, f"{name} {sid}: {resource}"


def test_the_review_role_only_reaches_review_stack_names(bootstrap_plan: PlanGraph) -> None:
    _, policy = role(bootstrap_plan, "review")
    by_id = ("key/*", "event-source-mapping:*", "scalable-target/*", ":catalog", "::/apis", "/apis/*", "/tags/*")
    for sid, resource in scoped_resources(policy):
        if resource == "*" or resource.endswith(by_id) or sid in ("ListState", "StackSecrets"):
            continue
        assert any(p in resource for p in ("platform-pr-*", "platform_pr_*", "/platform/pr-*", "/.pulumi/*/pr-*")), (
            f"{sid}: {resource}"
        )
    services = {a.split(":")[0] for a in actions(policy)}
    assert not services & {"eks", "rds", "backup"}
    assert [a for a in actions(policy) if a.startswith("ec2:")] == ["ec2:DescribeAvailabilityZones"]


def test_no_managing_role_can_change_the_bootstrap(bootstrap_plan: PlanGraph) -> None:
    roles = sorted(r.outputs["arn"] for r in bootstrap_plan.of_type(ROLE))
    policies = [arn.replace(":role/", ":policy/") + "-*" for arn in roles]
    bucket = state_bucket_arn(bootstrap_plan)
    key = bootstrap_plan.one("aws:kms/key:Key").outputs["arn"]
    for name in ("deploy", "review"):
        _, policy = role(bootstrap_plan, name)
        [deny] = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
        assert sorted(deny["Resource"]) == sorted([*roles, *policies, OIDC_ARN, bucket, key])
        assert "iam:*" in deny["Action"] and "kms:ScheduleKeyDeletion" in deny["Action"]
        assert "s3:DeleteBucket" in deny["Action"]


# The IAM service prefix of each resource type module the platform declares.
MODULE_SERVICE = {
    "s3": "s3", "kms": "kms", "iam": "iam", "lambda": "lambda", "dynamodb": "dynamodb", "kinesis": "kinesis",
    "sqs": "sqs", "sns": "sns", "sfn": "states", "glue": "glue", "athena": "athena", "backup": "backup",
    "sagemaker": "sagemaker", "apigatewayv2": "apigateway", "appautoscaling": "application-autoscaling",
    "ssm": "ssm", "ec2": "ec2", "vpc": "ec2", "rds": "rds", "eks": "eks", "route53": "route53",
    "secretsmanager": "secretsmanager",  # pragma: allowlist secret
    "ecr": "ecr", "codebuild": "codebuild", "scheduler": "scheduler",
}  # fmt: skip
CLOUDWATCH = {"logGroup": "logs", "metricAlarm": "cloudwatch", "dashboard": "cloudwatch"}
# Resource types whose IAM service is not their module's: Firehose lives in the provider's kinesis module.
KIND_SERVICE = {"firehoseDeliveryStream": "firehose"}


def services_of(plan: PlanGraph) -> set[str]:
    found: set[str] = set()
    for resource in plan.resources:
        if resource.type == "eks:index:Cluster":
            found |= {"eks", "ec2", "iam"}
        if not resource.type.startswith("aws:"):
            continue
        module, kind = resource.type.split(":")[1].split("/")
        if module == "cloudwatch":
            found.add(CLOUDWATCH.get(kind, "events"))
        else:
            found.add(KIND_SERVICE.get(kind) or MODULE_SERVICE[module])
    return found


def test_the_deploy_role_covers_every_service_of_every_deployed_stack(
    bootstrap_plan: PlanGraph, dev_plan: PlanGraph, staging_plan: PlanGraph, prod_plan: PlanGraph
) -> None:
    _, policy = role(bootstrap_plan, "deploy")
    granted = {a.split(":")[0] for a in actions(policy)}
    needed = services_of(dev_plan) | services_of(staging_plan) | services_of(prod_plan)
    assert needed - granted == set()
    assert {"eks", "ec2", "rds", "sagemaker", "glue"} <= needed


def test_the_review_role_covers_every_service_of_a_review_stack(bootstrap_plan: PlanGraph) -> None:
    review = run_program("pr-12345", read_stack_config("review"))
    _, policy = role(bootstrap_plan, "review")
    granted = {a.split(":")[0] for a in actions(policy) if a != "ec2:DescribeAvailabilityZones"}
    assert services_of(review) - granted == set()


def test_every_role_policy_fits_iams_managed_policy_limits(bootstrap_plan: PlanGraph) -> None:
    for name in ("preview", "deploy", "review"):
        documents = role_policies(bootstrap_plan, name)
        assert 1 <= len(documents) <= 10, f"{name}: IAM attaches at most 10 managed policies to a role"
        for document_ in documents:
            size = len(json.dumps(document_, separators=(",", ":")))
            assert size <= 6_144, f"{name}: a policy of {size} characters (IAM allows 6,144)"
    assert len(role_policies(bootstrap_plan, "deploy")) == 3  # grows with the platform's services


def test_statements_are_packed_in_order_into_policies_that_fit() -> None:
    assert pack([Statement(actions=["kms:Decrypt"], resources=["arn:aws:kms:us-east-1:1:key/x"])] * 3) == [[0, 1, 2]]
    many = [Statement(actions=["kms:Decrypt"], resources=[f"arn:aws:kms:us-east-1:123456789012:key/{'a' * 36}"])] * 80
    parts = pack(many)
    assert len(parts) > 1 and sorted(i for part in parts for i in part) == list(range(80))
    with pytest.raises(PolicyError, match="alone is longer"):
        pack([Statement(actions=["kms:Decrypt"], resources=["arn:aws:kms:::key/" + "x" * 7000])])


def test_a_star_resource_is_refused_for_an_action_that_takes_arns() -> None:
    with pytest.raises(PolicyError, match=r"s3:PutObject"):
        document([Statement(actions=["kms:CreateKey", "s3:PutObject"])])
    with pytest.raises(PolicyError, match="wildcard"):
        document([Statement(actions=["s3:*"], resources=["arn:aws:s3:::platform-*"])])
    protected = Protected(iam_arns=(), oidc_provider_arn=OIDC_ARN)
    assert protected.oidc_provider_arn == OIDC_ARN
    assert [s["Sid"] for s in document(preview_statements(None))["Statement"]] == ["ProgramDataSources"]


# --- state backend and account-wide settings -----------------------------------------------------


def test_the_state_bucket_is_versioned_encrypted_private_tls_only_and_protected(bootstrap_plan: PlanGraph) -> None:
    bucket = bootstrap_plan.one("aws:s3/bucket:Bucket", "state-bucket")
    key = bootstrap_plan.one("aws:kms/key:Key", "state-secrets-key")
    assert bucket.protect and key.protect
    assert bucket.inputs["bucket"].startswith("account-bootstrap-shared-state-pulumi")
    assert bucket.inputs.get("forceDestroy") is False
    versioning = bootstrap_plan.one("aws:s3/bucketVersioning:BucketVersioning", "state-versioning")
    assert versioning.inputs["versioningConfiguration"]["status"] == "Enabled"
    [rule] = bootstrap_plan.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ).inputs["rules"]
    assert rule["applyServerSideEncryptionByDefault"] == {
        "sseAlgorithm": "aws:kms",
        "kmsMasterKeyId": key.outputs["arn"],
    }
    block = bootstrap_plan.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    policy = json.loads(bootstrap_plan.one("aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])
    assert policy["Statement"][0]["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert key.inputs["enableKeyRotation"] is True
    assert bootstrap_plan.outputs["backendUrl"] == f"s3://{bucket.inputs['bucket']}"
    assert bootstrap_plan.outputs["secretsProvider"] == (
        "awskms://alias/account-bootstrap-shared-state-secrets?region=us-east-1"
    )


def test_without_the_state_backend_no_bucket_no_key_and_no_state_access(bootstrap_with: BootstrapPlan) -> None:
    plan = bootstrap_with({f"{PROJECT}:stateBackend": False})
    assert not plan.of_type("aws:s3/bucket:Bucket") and not plan.of_type("aws:kms/key:Key")
    assert "backendUrl" not in plan.outputs and "secretsProvider" not in plan.outputs
    state_sids = {"ReadState", "DecryptStackSecrets", "ListState", "WriteState", "StackSecrets"}
    for name in ("preview", "deploy", "review"):
        policy = role(plan, name)[1]
        assert not state_sids & {s["Sid"] for s in policy["Statement"]}
        assert "state-pulumi" not in json.dumps(policy)


def stack_regions() -> set[str]:
    regions: set[str] = set()
    for path in ROOT.glob("Pulumi.*.yaml"):
        config = read_stack_config(path.name.split(".")[1])
        regions |= {config["aws:region"], config["platform:drRegion"]}
    return regions


def test_backup_settings_opt_in_the_platforms_types_in_every_region_a_stack_uses(bootstrap_plan: PlanGraph) -> None:
    settings = {
        r.inputs["region"]: r.inputs for r in bootstrap_plan.of_type("aws:backup/regionSettings:RegionSettings")
    }
    assert set(settings) == set(bootstrap_plan.outputs["backupRegions"])
    assert stack_regions() <= set(settings)
    for inputs in settings.values():
        opt_in = inputs["resourceTypeOptInPreference"]
        assert set(opt_in) == set(BACKUP_RESOURCE_TYPES)
        assert {kind for kind, on in opt_in.items() if on} == {"DynamoDB", "S3", "RDS"}
        assert inputs["resourceTypeManagementPreference"]["DynamoDB"] is True


def test_the_lambda_concurrency_request_covers_prods_reservations(
    bootstrap_plan: PlanGraph, prod_plan: PlanGraph
) -> None:
    quotas = bootstrap_plan.of_type("aws:servicequotas/serviceQuota:ServiceQuota")
    assert {q.inputs["region"] for q in quotas} == set(bootstrap_plan.outputs["backupRegions"])
    assert {(q.inputs["serviceCode"], q.inputs["quotaCode"]) for q in quotas} == {("lambda", "L-B99A9384")}
    reserved = sum(
        max(f.inputs.get("reservedConcurrentExecutions", -1), 0)
        for f in prod_plan.of_type("aws:lambda/function:Function")
    )
    unreserved_minimum = 100  # Lambda keeps at least 100 executions of the quota unreserved
    assert all(q.inputs["value"] >= reserved + unreserved_minimum for q in quotas)


def test_no_quota_request_unless_configured(bootstrap_with: BootstrapPlan) -> None:
    plan = bootstrap_with({f"{PROJECT}:lambdaConcurrentExecutions": None})
    assert plan.of_type("aws:servicequotas/serviceQuota:ServiceQuota") == []


def test_an_existing_oidc_provider_is_reused_not_created(bootstrap_with: BootstrapPlan) -> None:
    existing = "arn:aws:iam::210987654321:oidc-provider/token.actions.githubusercontent.com"
    plan = bootstrap_with({f"{PROJECT}:githubOidcProviderArn": existing})
    assert plan.of_type("aws:iam/openIdConnectProvider:OpenIdConnectProvider") == []
    trust, _ = role(plan, "deploy")
    assert trust["Statement"][0]["Principal"] == {"Federated": existing}


def test_an_account_can_take_only_some_roles(bootstrap_with: BootstrapPlan) -> None:
    plan = bootstrap_with({f"{PROJECT}:roles": ["review"]})
    assert [r.name for r in plan.of_type(ROLE)] == ["review-role"]
    assert set(plan.outputs) >= {"reviewRoleArn"} and "deployRoleArn" not in plan.outputs
    _, policy = role(plan, "review")
    [deny] = [s for s in policy["Statement"] if s["Effect"] == "Deny"]
    assert f"arn:aws:iam::{ACCOUNT_ID}:role/account-bootstrap-shared-github-review" in deny["Resource"]


# --- configuration and guardrails ----------------------------------------------------------------


def test_bad_configuration_is_reported_whole_with_the_keys(bootstrap_with: BootstrapPlan) -> None:
    with pytest.raises(pulumi.RunError) as caught:
        bootstrap_with(
            {
                f"{PROJECT}:githubRepository": "platform",
                f"{PROJECT}:roles": ["deploy", "admin"],
                f"{PROJECT}:backupOptIn": ["DynamoDB", "Dynamo"],
                f"{PROJECT}:lambdaConcurrentExecutions": 50,
                f"{PROJECT}:regoins": ["eu-west-1"],
            }
        )
    message = str(caught.value)
    assert f'{PROJECT}:githubRepository: got "platform"; expected the GitHub repository as owner/name' in message
    assert f"{PROJECT}:roles[1]:" in message and "'preview', 'deploy' or 'review'" in message
    assert f"{PROJECT}:backupOptIn:" in message and "unknown AWS Backup resource types ['Dynamo']" in message
    assert f"{PROJECT}:lambdaConcurrentExecutions: got 50" in message
    assert f"{PROJECT}:regoins: unknown key" in message


def test_the_regions_must_include_the_primary_one(bootstrap_with: BootstrapPlan) -> None:
    with pytest.raises(pulumi.RunError, match=r"regions must include the primary region aws:region 'us-east-1'"):
        bootstrap_with({f"{PROJECT}:regions": ["eu-west-1", "eu-central-1"]})


def test_the_bootstrap_passes_the_platforms_policy_pack_with_its_written_waiver(bootstrap_plan: PlanGraph) -> None:
    waivers = Waivers.from_config(bootstrap_config()[f"{PROJECT}:policy"])
    report = evaluate(bootstrap_plan, waivers)
    assert report.violations == [] and report.unused_waivers == []
    waived = sorted((v.policy, v.resource_name) for v, _ in report.waived)
    assert waived == [("iam-no-wildcard-resource", "deploy-policy-2"), ("iam-no-wildcard-resource", "review-policy-2")]
    for violation, _ in report.waived:  # only the calls AWS cannot scope are on '*'
        assert "glue:CreateSecurityConfiguration" in violation.message and "s3:" not in violation.message


def test_the_backup_reports_service_linked_role_exists_before_any_stack_names_it(bootstrap_plan: PlanGraph) -> None:
    linked = bootstrap_plan.one("aws:iam/serviceLinkedRole:ServiceLinkedRole")
    assert linked.inputs["awsServiceName"] == "reports.backup.amazonaws.com"
    assert linked.protect
    # The role the platform's key policy and report plan name is the one the bootstrap creates.
    assert f"aws-service-role/{linked.inputs['awsServiceName']}/AWSServiceRoleForBackupReports" == REPORTS_ROLE
    assert bootstrap_plan.outputs["backupReportsRoleArn"] == f"arn:aws:iam::{ACCOUNT_ID}:role/{REPORTS_ROLE}"


def test_an_account_that_has_the_backup_reports_role_does_not_create_it(bootstrap_with: BootstrapPlan) -> None:
    plan = bootstrap_with({f"{PROJECT}:backupReportsRole": False})
    assert plan.of_type("aws:iam/serviceLinkedRole:ServiceLinkedRole") == []
    assert "backupReportsRoleArn" not in plan.outputs


@pytest.mark.parametrize("stack", ["dev", "staging", "prod"])
def test_the_stacks_give_cluster_access_to_the_roles_the_bootstrap_creates(
    bootstrap_plan: PlanGraph, stack: str
) -> None:
    """EKS access entries need principals that exist: the deploy and preview roles the stack files name
    are the bootstrap's (a name of no role fails the first `pulumi up` at CreateAccessEntry)."""
    access = read_stack_config(stack)["platform:eks"]["access"]
    created = {str(r.outputs["arn"]) for r in bootstrap_plan.of_type(ROLE)}
    named = {access[key] for key in ("deployRoleArn", "previewRoleArn") if key in access}
    assert named and named <= created, f"{stack}: {sorted(named - created)} are not roles of the bootstrap"
