"""The recorded plan as a Terraform plan JSON, so Terraform tools (checkov) can judge it.

Pulumi's AWS provider is bridged from the Terraform AWS provider: every `aws:*` resource is a Terraform
resource with the same attributes, camelCase here and snake_case there; a nested block that Terraform
repeats is a plural list here (`rules` for `rule`), and a block with at most one item is an object here
and a one-item list there. The adapter undoes exactly those renamings.

References: Terraform plans leave an attribute that points at a resource created in the same run
unknown and name the resource in `configuration` instead. The adapter does the same for top-level
attributes whose value is the id or ARN of another resource in the plan, so checkov's graph checks
(CKV2_*) see the connection (bucket -> logging configuration, VPC -> flow log, instance -> security
group).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from offline.mocks import RecordedResource
from offline.runner import PlanGraph

# Pulumi type token -> Terraform resource type, from pulumi-aws's bridge metadata (`renames`).
TERRAFORM_TYPES: dict[str, str] = {
    "aws:apigatewayv2/api:Api": "aws_apigatewayv2_api",
    "aws:apigatewayv2/integration:Integration": "aws_apigatewayv2_integration",
    "aws:apigatewayv2/route:Route": "aws_apigatewayv2_route",
    "aws:apigatewayv2/stage:Stage": "aws_apigatewayv2_stage",
    "aws:appautoscaling/policy:Policy": "aws_appautoscaling_policy",
    "aws:appautoscaling/target:Target": "aws_appautoscaling_target",
    "aws:athena/namedQuery:NamedQuery": "aws_athena_named_query",
    "aws:athena/workgroup:Workgroup": "aws_athena_workgroup",
    "aws:backup/framework:Framework": "aws_backup_framework",
    "aws:route53/healthCheck:HealthCheck": "aws_route53_health_check",
    "aws:backup/plan:Plan": "aws_backup_plan",
    "aws:backup/reportPlan:ReportPlan": "aws_backup_report_plan",
    "aws:backup/restoreTestingPlan:RestoreTestingPlan": "aws_backup_restore_testing_plan",
    "aws:backup/restoreTestingSelection:RestoreTestingSelection": "aws_backup_restore_testing_selection",
    "aws:backup/selection:Selection": "aws_backup_selection",
    "aws:backup/vault:Vault": "aws_backup_vault",
    "aws:backup/vaultLockConfiguration:VaultLockConfiguration": "aws_backup_vault_lock_configuration",
    "aws:backup/vaultNotifications:VaultNotifications": "aws_backup_vault_notifications",
    "aws:cloudwatch/dashboard:Dashboard": "aws_cloudwatch_dashboard",
    "aws:cloudwatch/eventEndpoint:EventEndpoint": "aws_cloudwatch_event_endpoint",
    "aws:cloudwatch/eventArchive:EventArchive": "aws_cloudwatch_event_archive",
    "aws:cloudwatch/eventApiDestination:EventApiDestination": "aws_cloudwatch_event_api_destination",
    "aws:cloudwatch/eventBus:EventBus": "aws_cloudwatch_event_bus",
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy": "aws_cloudwatch_event_bus_policy",
    "aws:cloudwatch/eventConnection:EventConnection": "aws_cloudwatch_event_connection",
    "aws:cloudwatch/eventRule:EventRule": "aws_cloudwatch_event_rule",
    "aws:cloudwatch/eventTarget:EventTarget": "aws_cloudwatch_event_target",
    "aws:cloudwatch/logGroup:LogGroup": "aws_cloudwatch_log_group",
    "aws:cloudwatch/metricAlarm:MetricAlarm": "aws_cloudwatch_metric_alarm",
    "aws:codebuild/project:Project": "aws_codebuild_project",
    "aws:dynamodb/table:Table": "aws_dynamodb_table",
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup": "aws_default_security_group",
    "aws:ec2/eip:Eip": "aws_eip",
    "aws:ec2/flowLog:FlowLog": "aws_flow_log",
    "aws:ec2/internetGateway:InternetGateway": "aws_internet_gateway",
    "aws:ec2/launchTemplate:LaunchTemplate": "aws_launch_template",
    "aws:ec2/natGateway:NatGateway": "aws_nat_gateway",
    "aws:ec2/routeTable:RouteTable": "aws_route_table",
    "aws:ec2/routeTableAssociation:RouteTableAssociation": "aws_route_table_association",
    "aws:ec2/securityGroup:SecurityGroup": "aws_security_group",
    "aws:ec2/securityGroupRule:SecurityGroupRule": "aws_security_group_rule",
    "aws:ec2/subnet:Subnet": "aws_subnet",
    "aws:ec2/vpc:Vpc": "aws_vpc",
    "aws:ec2/vpcEndpoint:VpcEndpoint": "aws_vpc_endpoint",
    "aws:ecr/lifecyclePolicy:LifecyclePolicy": "aws_ecr_lifecycle_policy",
    "aws:ecr/repository:Repository": "aws_ecr_repository",
    "aws:eks/accessEntry:AccessEntry": "aws_eks_access_entry",
    "aws:eks/accessPolicyAssociation:AccessPolicyAssociation": "aws_eks_access_policy_association",
    "aws:eks/addon:Addon": "aws_eks_addon",
    "aws:glue/catalogDatabase:CatalogDatabase": "aws_glue_catalog_database",
    "aws:glue/catalogTable:CatalogTable": "aws_glue_catalog_table",
    "aws:glue/crawler:Crawler": "aws_glue_crawler",
    "aws:glue/job:Job": "aws_glue_job",
    "aws:glue/securityConfiguration:SecurityConfiguration": "aws_glue_security_configuration",
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": "aws_iam_openid_connect_provider",
    "aws:iam/policy:Policy": "aws_iam_policy",
    "aws:iam/role:Role": "aws_iam_role",
    "aws:iam/rolePolicy:RolePolicy": "aws_iam_role_policy",
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment": "aws_iam_role_policy_attachment",
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": "aws_kinesis_firehose_delivery_stream",
    "aws:kinesis/stream:Stream": "aws_kinesis_stream",
    "aws:kms/alias:Alias": "aws_kms_alias",
    "aws:kms/key:Key": "aws_kms_key",
    "aws:kms/replicaKey:ReplicaKey": "aws_kms_replica_key",
    "aws:lambda/codeSigningConfig:CodeSigningConfig": "aws_lambda_code_signing_config",
    "aws:lambda/eventSourceMapping:EventSourceMapping": "aws_lambda_event_source_mapping",
    "aws:lambda/function:Function": "aws_lambda_function",
    "aws:lambda/functionEventInvokeConfig:FunctionEventInvokeConfig": "aws_lambda_function_event_invoke_config",
    "aws:lambda/permission:Permission": "aws_lambda_permission",
    "aws:rds/instance:Instance": "aws_db_instance",
    "aws:rds/parameterGroup:ParameterGroup": "aws_db_parameter_group",
    "aws:rds/subnetGroup:SubnetGroup": "aws_db_subnet_group",
    "aws:s3/bucket:Bucket": "aws_s3_bucket",
    "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration": "aws_s3_bucket_lifecycle_configuration",
    "aws:s3/bucketLogging:BucketLogging": "aws_s3_bucket_logging",
    "aws:s3/bucketNotification:BucketNotification": "aws_s3_bucket_notification",
    "aws:s3/bucketObjectv2:BucketObjectv2": "aws_s3_object",
    "aws:s3/bucketOwnershipControls:BucketOwnershipControls": "aws_s3_bucket_ownership_controls",
    "aws:s3/bucketPolicy:BucketPolicy": "aws_s3_bucket_policy",
    "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock": "aws_s3_bucket_public_access_block",
    "aws:s3/bucketReplicationConfig:BucketReplicationConfig": "aws_s3_bucket_replication_configuration",
    "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration": (
        "aws_s3_bucket_server_side_encryption_configuration"
    ),
    "aws:s3/bucketVersioning:BucketVersioning": "aws_s3_bucket_versioning",
    "aws:sagemaker/endpoint:Endpoint": "aws_sagemaker_endpoint",
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": "aws_sagemaker_endpoint_configuration",
    "aws:sagemaker/model:Model": "aws_sagemaker_model",
    "aws:scheduler/schedule:Schedule": "aws_scheduler_schedule",
    "aws:secretsmanager/secret:Secret": "aws_secretsmanager_secret",  # pragma: allowlist secret
    "aws:secretsmanager/secretVersion:SecretVersion": "aws_secretsmanager_secret_version",  # pragma: allowlist secret
    "aws:sfn/stateMachine:StateMachine": "aws_sfn_state_machine",
    "aws:signer/signingProfile:SigningProfile": "aws_signer_signing_profile",
    "aws:sns/topic:Topic": "aws_sns_topic",
    "aws:sns/topicPolicy:TopicPolicy": "aws_sns_topic_policy",
    "aws:sns/topicSubscription:TopicSubscription": "aws_sns_topic_subscription",
    "aws:sqs/queue:Queue": "aws_sqs_queue",
    "aws:sqs/queuePolicy:QueuePolicy": "aws_sqs_queue_policy",
    "aws:ssm/parameter:Parameter": "aws_ssm_parameter",
    "aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule": "aws_vpc_security_group_ingress_rule",
}

# `aws:*` types with no Terraform resource to judge, and why. (Empty today: every AWS type maps.)
NO_TERRAFORM_COUNTERPART: dict[str, str] = {}

# Nested blocks Terraform repeats under a singular name, which Pulumi pluralizes.
BLOCK_RENAMES: dict[str, str] = {
    "attributes": "attribute",
    "catalogTargets": "catalog_target",
    "controls": "control",
    "copyActions": "copy_action",
    "eventBuses": "event_bus",
    "encryptionConfigurations": "encryption_configuration",
    "environmentVariables": "environment_variable",
    "globalSecondaryIndexes": "global_secondary_index",
    "inputParameters": "input_parameter",
    "keySchemas": "key_schema",
    "lambdaFunctions": "lambda_function",
    "metricQueries": "metric_query",
    "noncurrentVersionTransitions": "noncurrent_version_transition",
    "podIdentityAssociations": "pod_identity_association",
    "queues": "queue",
    "replicas": "replica",
    "routes": "route",
    "rules": "rule",
    "s3Targets": "s3_target",
    "selectionTags": "selection_tag",
    "topics": "topic",
    "transitions": "transition",
}

# Renames that hold for one type only: the same Pulumi name is a plural Terraform block elsewhere
# (Firehose processors' `parameters`).
TYPE_BLOCK_RENAMES: dict[str, dict[str, str]] = {
    "aws:rds/parameterGroup:ParameterGroup": {"parameters": "parameter"},
}

# Nested blocks whose Terraform name is already what Pulumi calls them (plural or a collective noun).
BLOCKS_NAMED_ALIKE: frozenset[str] = frozenset(
    {
        "blockDeviceMappings",
        "columns",
        "egress",
        "ingress",
        "parameters",
        "partitionKeys",
        "processors",
        "productionVariants",
        "tagSpecifications",
    }
)

# Attributes whose value is a map (keys are data, never renamed).
MAP_ATTRIBUTES: frozenset[str] = frozenset(
    {"defaultArguments", "labels", "nonOverridableArguments", "parameters", "tags", "tagsAll", "variables"}
)

_PROPERTY = re.compile(r"^[a-z][a-zA-Z0-9]*$")
_WORD_START = re.compile(r"(?<!^)(?=[A-Z])")


def snake_case(key: str) -> str:
    """`kmsMasterKeyId` -> `kms_master_key_id` (digits stay with their word: `s3Targets` -> `s3_targets`)."""
    return _WORD_START.sub("_", key).lower()


def terraform_key(key: str, value: Any, renames: Mapping[str, str] = BLOCK_RENAMES) -> str:
    if isinstance(value, list) and value and all(isinstance(item, dict) for item in value):
        return renames.get(key, snake_case(key))
    return snake_case(key)


def _is_map(key: str, value: Mapping[str, Any]) -> bool:
    return key in MAP_ATTRIBUTES or any(not _PROPERTY.match(k) for k in value)


def terraform_value(value: Any, renames: Mapping[str, str] = BLOCK_RENAMES) -> Any:
    """Pulumi inputs as Terraform values: snake_case attributes, blocks as lists, whole numbers as ints."""
    if isinstance(value, dict):
        return [terraform_attributes(value, renames)]
    if isinstance(value, list):
        return [terraform_attributes(v, renames) if isinstance(v, dict) else terraform_value(v, renames) for v in value]
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def terraform_attributes(inputs: Mapping[str, Any], renames: Mapping[str, str] = BLOCK_RENAMES) -> dict[str, Any]:
    """`renames`: the block renames of the resource's type (BLOCK_RENAMES plus its TYPE_BLOCK_RENAMES)."""
    attributes: dict[str, Any] = {}
    for key, value in inputs.items():
        if isinstance(value, dict) and _is_map(key, value):
            attributes[snake_case(key)] = dict(value)
        else:
            attributes[terraform_key(key, value, renames)] = terraform_value(value, renames)
    return attributes


def _eks_cluster(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The `aws_eks_cluster` that pulumi-eks's Cluster component creates from these inputs."""
    subnets = [*inputs.get("privateSubnetIds", []), *inputs.get("publicSubnetIds", [])]
    values: dict[str, Any] = {
        "name": inputs.get("name"),
        "version": inputs.get("version"),
        "enabled_cluster_log_types": list(inputs.get("enabledClusterLogTypes", [])),
        "deletion_protection": inputs.get("deletionProtection", False),
        "vpc_config": [
            {
                "endpoint_private_access": inputs.get("endpointPrivateAccess", False),
                "endpoint_public_access": inputs.get("endpointPublicAccess", True),
                "public_access_cidrs": list(inputs.get("publicAccessCidrs", ["0.0.0.0/0"])),
                "subnet_ids": subnets,
            }
        ],
        "access_config": [{"authentication_mode": inputs.get("authenticationMode", "CONFIG_MAP")}],
        "tags": dict(inputs.get("tags", {})),
    }
    if inputs.get("encryptionConfigKeyArn"):
        values["encryption_config"] = [
            {"resources": ["secrets"], "provider": [{"key_arn": inputs["encryptionConfigKeyArn"]}]}
        ]
    return values


def _eks_node_group(inputs: Mapping[str, Any]) -> dict[str, Any]:
    """The `aws_eks_node_group` that pulumi-eks's ManagedNodeGroup component creates."""
    values = terraform_attributes({k: v for k, v in inputs.items() if k not in ("cluster", "nodeRole")})
    values["node_role_arn"] = inputs.get("nodeRoleArn") or inputs.get("nodeRole")
    return values


@dataclass(frozen=True)
class ComponentTranslation:
    """A multi-language component whose one AWS resource checkov should judge (the rest are helpers)."""

    terraform_type: str
    values: Callable[[Mapping[str, Any]], dict[str, Any]]


COMPONENT_TRANSLATIONS: dict[str, ComponentTranslation] = {
    "eks:index:Cluster": ComponentTranslation("aws_eks_cluster", _eks_cluster),
    "eks:index:ManagedNodeGroup": ComponentTranslation("aws_eks_node_group", _eks_node_group),
}

# Types that are no AWS resource at all: the engine's own, the platform's components, Kubernetes objects.
NOT_AWS_PREFIXES: tuple[str, ...] = ("pulumi:", "platform:", "kubernetes:")


def terraform_type_of(resource: RecordedResource) -> str | None:
    """The Terraform type a recorded resource becomes, None when it has none (see the tables above)."""
    if resource.type in TERRAFORM_TYPES:
        return TERRAFORM_TYPES[resource.type]
    if resource.type in COMPONENT_TRANSLATIONS:
        return COMPONENT_TRANSLATIONS[resource.type].terraform_type
    if resource.type.startswith(NOT_AWS_PREFIXES) or resource.type in NO_TERRAFORM_COUNTERPART:
        return None
    raise UnmappedTypeError(resource.type)


class UnmappedTypeError(LookupError):
    def __init__(self, type_token: str) -> None:
        super().__init__(
            f"{type_token}: no Terraform type known; add it to TERRAFORM_TYPES in offline/terraform_plan.py "
            "(pulumi-aws's bridge metadata names it) or to NO_TERRAFORM_COUNTERPART with the reason"
        )


_ADDRESS_NAME = re.compile(r"[^A-Za-z0-9_-]")


@dataclass(frozen=True)
class PlannedResource:
    """One recorded resource as a Terraform plan resource."""

    resource: RecordedResource
    terraform_type: str
    name: str

    @property
    def address(self) -> str:
        return f"{self.terraform_type}.{self.name}"


def planned_resources(graph: PlanGraph) -> list[PlannedResource]:
    """Every AWS resource of the plan with a unique Terraform address derived from its logical name."""
    planned: list[PlannedResource] = []
    taken: set[str] = set()
    for resource in graph.resources:
        tf_type = terraform_type_of(resource)
        if tf_type is None:
            continue
        base = _ADDRESS_NAME.sub("_", resource.name)
        if not base[:1].isalpha():
            base = f"r_{base}"
        name, n = base, 2
        while f"{tf_type}.{name}" in taken:
            name, n = f"{base}_{n}", n + 1
        taken.add(f"{tf_type}.{name}")
        planned.append(PlannedResource(resource, tf_type, name))
    return planned


def _reference_index(planned: list[PlannedResource]) -> dict[str, list[str]]:
    """id / ARN value -> every `<address>.<attribute>` that has it (a table and a bucket may share a name)."""
    index: dict[str, list[str]] = {}
    for p in planned:
        for attribute, value in (("id", p.resource.id), ("arn", p.resource.outputs.get("arn"))):
            if isinstance(value, str) and value:
                index.setdefault(value, []).append(f"{p.address}.{attribute}")
    return index


def _reference(key: str, value: Any, index: Mapping[str, list[str]]) -> str | None:
    """The one resource attribute `value` names; among namesakes, the one whose type the key names
    (`bucket` -> aws_s3_bucket, `vpc_id` -> aws_vpc); None when not a reference or still ambiguous."""
    candidates = index.get(value, []) if isinstance(value, str) else []
    if len(candidates) > 1:
        words = set(key.split("_"))
        candidates = [c for c in candidates if c.split(".", 1)[0].rsplit("_", 1)[-1] in words]
    return candidates[0] if len(candidates) == 1 else None


def _split_references(
    own: PlannedResource, values: dict[str, Any], index: Mapping[str, list[str]]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Move top-level attributes that point at other resources from values to configuration references."""
    kept: dict[str, Any] = {}
    expressions: dict[str, Any] = {}
    for key, value in values.items():
        items = value if isinstance(value, list) else [value]
        refs = [_reference(key, item, index) for item in items]
        if items and all(refs) and not any(r.startswith(f"{own.address}.") for r in refs if r):
            # Terraform lists each reference with and without its attribute: `aws_vpc.main.id`, `aws_vpc.main`.
            expressions[key] = {"references": [part for r in refs if r for part in (r, r.rsplit(".", 1)[0])]}
        else:
            kept[key] = value
    return kept, expressions


def terraform_plan_document(graph: PlanGraph) -> dict[str, Any]:
    """A Terraform plan JSON (format 1.2) of the graph: `planned_values` and `configuration` references."""
    # offline.plan calls this module from `make plan`; importing it here, not at the top, breaks the cycle.
    from offline.plan import jsonable

    planned = planned_resources(graph)
    index = _reference_index(planned)
    values_out: list[dict[str, Any]] = []
    config_out: list[dict[str, Any]] = []
    for p in planned:
        inputs = jsonable(p.resource.inputs)
        translation = COMPONENT_TRANSLATIONS.get(p.resource.type)
        renames = {**BLOCK_RENAMES, **TYPE_BLOCK_RENAMES.get(p.resource.type, {})}
        values = translation.values(inputs) if translation else terraform_attributes(inputs, renames)
        values, expressions = _split_references(p, values, index)
        common = {"address": p.address, "mode": "managed", "type": p.terraform_type, "name": p.name}
        values_out.append({**common, "provider_name": "registry.terraform.io/hashicorp/aws", "values": values})
        config_out.append({**common, "provider_config_key": "aws", "expressions": expressions})
    return {
        "format_version": "1.2",
        "terraform_version": "1.9.8",
        "planned_values": {"root_module": {"resources": values_out}},
        "configuration": {"root_module": {"resources": config_out}},
    }
