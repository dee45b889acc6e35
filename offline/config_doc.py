"""The README's configuration and stack output references, generated so they are never stale.

The config table comes from the config models; the outputs table from STACK_OUTPUTS below, which a
test holds equal to what the program exports for the shipped stacks.

python -m offline.config_doc            # print the tables
python -m offline.config_doc --write    # refresh them in README.md between the markers
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
OUTPUTS_START, OUTPUTS_END = "<!-- stack-outputs:start -->", "<!-- stack-outputs:end -->"
INTERNAL = {"project", "stack"}

ALWAYS = "always"
EKS, FEATURE_STORE, DATA_LAKE, BACKUP, ORDERS = (
    "`eks.enabled`",
    "`featureStore.enabled`",
    "`dataLake.enabled`",
    "`backup.enabled`",
    "`orders.enabled`",
)
INFERENCE = "`featureStore.inference` set"
# Every stack output (`pulumi stack output <top-level key>`; nested keys are fields of that object):
# when it exists, and what it is for.
STACK_OUTPUTS: dict[str, tuple[str, str]] = {
    "environment": (ALWAYS, "The stack's environment class (`dev`, `staging` or `prod`)."),
    "regions.primary": (ALWAYS, "Region of everything but the DR copies."),
    "regions.dr": (ALWAYS, "Region of the DR vault, replicas and DR function."),
    "kubeconfig": (EKS, "Kubeconfig of the cluster for kubectl and Helm (secret; kept out of `eks` so the rest "
                   "stays readable)."),
    "eks.clusterName": (EKS, "EKS cluster name (`aws eks update-kubeconfig --name`)."),
    "eks.vpcId": (EKS, "VPC of the cluster."),
    "eks.argocdUrl": (EKS, "ArgoCD UI: the ALB host when `argocdHostname` is set, else the in-cluster service "
                      "(reach it with `kubectl port-forward`)."),
    "eks.secretsPrefix": (EKS, "Secrets Manager prefix External Secrets may read: store the repository "
                          "credentials and the overlays' secrets under it."),
    "eks.clusterRoleArn": (EKS, "IAM role of the EKS control plane."),
    "eks.nodeRoleArn": (EKS, "IAM role of the managed node group."),
    "eks.oidcProviderArn": (EKS, "IAM OIDC provider of the cluster: trust it for more IRSA service accounts."),
    "eks.externalSecretsRoleArn": (EKS, "IRSA role of External Secrets (read-only on `secretsPrefix`)."),
    "eks.loadBalancerControllerRoleArn": (EKS, "IRSA role of the AWS Load Balancer Controller."),
    "eks.ebsCsiDriverRoleArn": (EKS, "Pod Identity role of the EBS CSI driver add-on."),
    "eks.clusterSecretsPrefix": (EKS, "Where the cluster's own secrets live (`secretsPrefix` plus the cluster slug)."),
    "eks.secretsKmsKeyArn": (EKS, "KMS key of those secrets and of the image repository: writers of the secrets "
                             "need `kms:GenerateDataKey` on it."),
    "eks.repositoryCredentialSecretArn": (EKS, "Secret (created empty) of the Git credential ArgoCD and the deployer "
                                          "use: `sshPrivateKey`, or `username`/`password` for https URLs."),
    "eks.notificationTokenSecretArn": (EKS, "Secret (created empty) of the Slack token of ArgoCD notifications: "
                                       "`token`."),
    "eks.oidcClientSecretArn": ("`eks.argocdOidc` set", "Secret (created empty) holding ArgoCD's OIDC client "
                                "credential under the JSON key `clientSecret`."),
    "eks.deployerTokenSecretArn": ("`eks.inVpcDeployer.enabled`", "Secret (created empty) of the Pulumi access token "
                                   "the in-VPC deployer logs in with: `token`."),
    "eks.appRepositoryUrl": (EKS, "ECR repository of the application image the overlays pull (immutable tags)."),
    "eks.externalDnsRoleArn": ("`eks.externalDns` set", "IRSA role of external-dns, limited to the hosted zone."),
    "eks.deployerProjectName": ("`eks.inVpcDeployer.enabled`", "CodeBuild project that runs `pulumi up` (or "
                                "`preview`) inside the VPC: `aws codebuild start-build --project-name`."),
    "eks.deployerRoleArn": ("`eks.inVpcDeployer.enabled`", "Role of that project: the deploy and preview roles must "
                            "trust it."),
    "featureStore.streamName": (FEATURE_STORE, "Kinesis stream producers write events to (partition key userId)."),
    "featureStore.streamArn": (FEATURE_STORE, "ARN of that stream."),
    "featureStore.tableName": (FEATURE_STORE, "DynamoDB table of the features per user."),
    "featureStore.failureBucket": (FEATURE_STORE, "S3 bucket (SSE-KMS) where enrichment parks the batches it gave up "
                                   "on: replay them with `python -m handlers.feature_store.replay --bucket`."),
    "featureStore.producerPolicyArn": (FEATURE_STORE, "Managed policy to attach to producers: put records on the "
                                       "stream, with its key."),
    "featureStore.replayPolicyArn": (FEATURE_STORE, "Managed policy for operators who run the replay command: read "
                                     "the failure bucket, read/write the feature table, decrypt with the key."),
    "featureStore.dashboardName": (FEATURE_STORE, "CloudWatch dashboard of the pipeline: lag, record counts, "
                                   "errors, throttles, API and model latency."),
    "featureStore.alarmTopicArn": (FEATURE_STORE, "SNS topic of the component's alarms: subscribe the on-call."),
    "featureStore.endpointName": (INFERENCE, "SageMaker endpoint serving the model."),
    "featureStore.apiUrl": (INFERENCE, "`POST` here with `{\"userId\": ...}` for a prediction."),
    "featureStore.apiClientPolicyArn": (f"{INFERENCE}, `apiAuthorization: AWS_IAM`", "Managed policy that lets a "
                                        "principal call the inference API (SigV4)."),
    "dataLake.rawBucket": (DATA_LAKE, "Bucket the feeds land in (`raw/customers/`, `raw/products/`, "
                           "`raw/transactions/`)."),
    "dataLake.processedBucket": (DATA_LAKE, "Bucket of the Parquet tables the Glue jobs write."),
    "dataLake.athenaResultsBucket": (DATA_LAKE, "Bucket of the workgroup's query results."),
    "dataLake.accessLogBucket": (f"{DATA_LAKE}, `dataLake.accessLogging`", "Bucket of the S3 server access logs "
                                 "of the lake buckets."),
    "dataLake.database": (DATA_LAKE, "Glue database of the crawled and processed tables."),
    "dataLake.workgroup": (DATA_LAKE, "Athena workgroup (engine v3, enforced settings, named queries)."),
    "dataLake.crawlers.customers": (DATA_LAKE, "Glue crawler of `raw/customers/`."),
    "dataLake.crawlers.products": (DATA_LAKE, "Glue crawler of `raw/products/`."),
    "dataLake.crawlers.transactions": (DATA_LAKE, "Glue crawler of `raw/transactions/`."),
    "dataLake.jobs.customerTransform": (DATA_LAKE, "Glue job writing the processed customers."),
    "dataLake.jobs.salesAggregation": (DATA_LAKE, "Glue job writing the sales aggregates."),
    "dataLake.ingestionTrigger": (DATA_LAKE, "Function starting the crawler of each new raw object's prefix."),
    "dataLake.sampleDataGenerator": (f"{DATA_LAKE}, `dataLake.sampleDataGenerator`", "Function writing sample "
                                     "feeds into `raw/` (invoke it to try the lake)."),
    "dataLake.analystPolicyArn": (DATA_LAKE, "Managed policy for analysts: query through the workgroup."),
    "dataLake.refreshStateMachineArn": (DATA_LAKE, "State machine refreshing the lake (crawlers, jobs, "
                                        "`Lake Refreshed` event); redrive a failed execution from its failed state."),
    "dataLake.eventsDeliveryStream": (f"{DATA_LAKE}, `dataLake.eventsToLake`", "Firehose stream delivering the "
                                      "orders bus's events into `raw/events/`."),
    "backup.vaultArn": (BACKUP, "Backup vault in the primary region."),
    "backup.drVaultArn": (BACKUP, "Vault in the DR region the plan copies to."),
    "backup.planId": (BACKUP, "AWS Backup plan (daily and weekly rules)."),
    "backup.drFunctionArn": (BACKUP, "DR orchestration function (pilot light / warm standby), in the DR region."),
    "backup.validationFunctionArn": (BACKUP, "Daily backup-validation function."),
    "backup.notificationTopicArn": (BACKUP, "SNS topic of vault events and validation alerts: subscribe the "
                                    "on-call."),
    "backup.tableName": (BACKUP, "Application table under backup."),
    "backup.replicaTableName": (BACKUP, "Its copy in the DR region."),
    "backup.bucketName": (BACKUP, "Application bucket under backup."),
    "backup.replicaBucketName": (BACKUP, "Its replica bucket in the DR region."),
    "backup.databaseEndpoint": (f"{BACKUP}, `backup.database.enabled`", "Address of the MySQL primary."),
    "backup.databaseCredentialArn": (f"{BACKUP}, `backup.database.enabled`", "Secret holding the primary's "
                                     "master username and password (administration only; applications use "
                                     "IAM database authentication)."),
    "backup.replicaDatabaseId": (f"{BACKUP}, `backup.database.enabled`", "Identifier of the cross-region read "
                                 "replica the DR function promotes."),
    "backup.drConnectionParameter": (
        f"{BACKUP}, `backup.database.enabled`",
        "Parameter Store name (DR region) where the DR function publishes the promoted database's endpoint and "
        "secret ARN.",
    ),
    "backup.complianceReportBucket": (
        f"{BACKUP}, `backup.complianceReports`",
        "Bucket receiving the daily AWS Backup Audit Manager compliance report.",
    ),
    "backup.auditFrameworkArn": (
        f"{BACKUP}, `backup.complianceReports`",
        "AWS Backup Audit Manager framework of the plan's promises.",
    ),
    "backup.restoreTestingPlanName": (f"{BACKUP}, `backup.restoreTesting`", "Restore testing plan of the "
                                      "application table."),
    "orders.busName": (ORDERS, "EventBridge bus shops publish `Order Placed` events to (source "
                       "`ecommerce.orders`)."),
    "orders.drIntakeBusArn": (f"{ORDERS}, `orders.drIntakeBus`", "Bus of the same name in the DR region that "
                              "forwards order events to the primary bus."),
    "orders.globalEndpointUrl": (f"{ORDERS}, `orders.globalEndpoint`", "URL of the EventBridge global endpoint."),
    "orders.globalEndpointId": (f"{ORDERS}, `orders.globalEndpoint`", "What producers pass as `EndpointId` to "
                                "PutEvents, so order intake fails over to the DR region."),
    "orders.stateMachineArn": (ORDERS, "Order workflow state machine."),
    "orders.alarmTopicArn": (ORDERS, "SNS topic of the component's alarms: subscribe the on-call."),
    "orders.queues.lifecycle": (ORDERS, "SQS queue of order lifecycle events for the consumer."),
    "orders.queues.lifecycleDlq": (ORDERS, "Its dead-letter queue."),
    "orders.queues.eventsDlq": (ORDERS, "Dead-letter queue of events the rules could not deliver."),
    "orders.tables.orders": (ORDERS, "DynamoDB table of orders (GSI `CustomerIndex`)."),
    "orders.tables.inventory": (ORDERS, "DynamoDB table of stock per product."),
    "orders.tables.callbacks": (ORDERS, "DynamoDB table of payment task tokens (callback integration)."),
}  # fmt: skip


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


def outputs_table() -> str:
    lines = ["| output | exists when | description |", "|---|---|---|"]
    lines += [f"| `{key}` | {when} | {description} |" for key, (when, description) in STACK_OUTPUTS.items()]
    return "\n".join(lines)


def _between(readme: str, start: str, end: str, body: str) -> str:
    pattern = re.compile(re.escape(start) + ".*?" + re.escape(end), re.S)
    if not pattern.search(readme):
        raise ValueError(f"README.md lacks the {start} ... {end} markers")
    return pattern.sub(lambda _: f"{start}\n{body}\n{end}", readme)


def refreshed(readme: str) -> str:
    readme = _between(readme, START, END, table())
    return _between(readme, OUTPUTS_START, OUTPUTS_END, outputs_table())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--write", action="store_true", help="update README.md in place")
    args = parser.parse_args()
    if args.write:
        README.write_text(refreshed(README.read_text()))
    else:
        print(table(), outputs_table(), sep="\n\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
