"""Recording Pulumi mocks with realistic provider outputs.

One implementation serves the tests and `make plan`: every resource the program registers is recorded
(URN, type, parent, resolved inputs, options) and answered with the outputs the real provider would
return (ARNs in the right region and account, ids with the right shape, a kubeconfig for EKS).
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import pulumi
from pulumi.runtime import rpc
from pulumi.runtime.mocks import MockCallArgs, MockMonitor, MockResourceArgs

ACCOUNT_ID = "123456789012"
PARTITION = "aws"


def short_hash(*parts: str, length: int = 8) -> str:
    """Deterministic hex suffix, so repeated runs of one stack produce identical plans."""
    return hashlib.sha256("/".join(parts).encode()).hexdigest()[:length]


@dataclass
class RecordedResource:
    """One registered resource as the engine would see it."""

    urn: str
    type: str
    name: str
    parent: str
    custom: bool
    remote: bool
    protect: bool
    provider: str
    depends_on: list[str]
    inputs: dict[str, Any]
    outputs: dict[str, Any] = field(default_factory=dict)
    id: str = ""

    @property
    def provider_urn(self) -> str:
        """The provider reference without its `::id` suffix."""
        # A provider reference is `<provider urn>::<provider id>`, and URNs contain `::` themselves.
        return self.provider.rsplit("::", 1)[0] if self.provider else ""


@dataclass(frozen=True)
class _Where:
    region: str
    account: str = ACCOUNT_ID

    def arn(self, service: str, resource: str, *, regional: bool = True, account: bool = True) -> str:
        region = self.region if regional else ""
        acct = self.account if account else ""
        return f"arn:{PARTITION}:{service}:{region}:{acct}:{resource}"


OutputBuilder = Callable[[str, dict[str, Any], _Where], tuple[str, dict[str, Any]]]


def _physical_name(logical: str, inputs: Mapping[str, Any], key: str = "name") -> str:
    value = inputs.get(key)
    if isinstance(value, str) and value:
        return value
    # Pulumi auto-naming: the logical name plus a random suffix (deterministic here).
    return f"{logical}-{short_hash(logical, length=7)}"


def _named(service: str, pattern: str, *, key: str = "name", id_is: str = "name") -> OutputBuilder:
    """Builder for resources whose ARN is `arn:aws:<service>:<region>:<account>:<pattern>`."""

    def build(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
        name = _physical_name(logical, inputs, key)
        arn = where.arn(service, pattern.format(name=name))
        ident = {"name": name, "arn": arn}[id_is]
        return ident, {key: name, "arn": arn}

    return build


def _bucket(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    name = _physical_name(logical, inputs, "bucket")
    return name, {
        "bucket": name,
        "arn": f"arn:{PARTITION}:s3:::{name}",
        "bucketDomainName": f"{name}.s3.amazonaws.com",
        "bucketRegionalDomainName": f"{name}.s3.{where.region}.amazonaws.com",
        "region": where.region,
    }


def _kms_key(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    h = short_hash(logical, where.region, length=32)
    key_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    return key_id, {"keyId": key_id, "arn": where.arn("kms", f"key/{key_id}")}


def _kms_alias(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    name = _physical_name(logical, inputs)
    return name, {"name": name, "arn": where.arn("kms", name), "targetKeyArn": inputs.get("targetKeyId")}


def _iam(kind: str, id_prefix: str) -> OutputBuilder:
    def build(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
        name = _physical_name(logical, inputs)
        path = inputs.get("path") or "/"
        arn = f"arn:{PARTITION}:iam::{where.account}:{kind}{path}{name}"
        unique = id_prefix + short_hash(logical, length=17).upper()
        ident = arn if kind == "policy" else name
        return ident, {"name": name, "arn": arn, "uniqueId": unique, "policyId": unique}

    return build


def _oidc_provider(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    """IAM OIDC providers are global and named by their issuer host: `oidc-provider/<host>[/path]`."""
    issuer = str(inputs.get("url") or f"https://{logical}.example.com").removeprefix("https://")
    arn = f"arn:{PARTITION}:iam::{where.account}:oidc-provider/{issuer}"
    return arn, {"arn": arn}


# The names AWS gives the service-linked roles the platform and the bootstrap create.
SERVICE_LINKED_ROLE_NAMES: dict[str, str] = {"reports.backup.amazonaws.com": "AWSServiceRoleForBackupReports"}


def _service_linked_role(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    """AWS names the role after its service, under the path `/aws-service-role/<service>/`."""
    service = str(inputs["awsServiceName"])
    name = SERVICE_LINKED_ROLE_NAMES.get(service, f"AWSServiceRoleFor{service.split('.')[0].title()}")
    arn = f"arn:{PARTITION}:iam::{where.account}:role/aws-service-role/{service}/{name}"
    return arn, {
        "name": name,
        "arn": arn,
        "path": f"/aws-service-role/{service}/",
        "uniqueId": "AROA" + short_hash(logical, length=17).upper(),
    }


def _lambda(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    name = _physical_name(logical, inputs)
    arn = where.arn("lambda", f"function:{name}")
    return name, {
        "name": name,
        "arn": arn,
        "qualifiedArn": f"{arn}:1",
        "version": "1",
        "invokeArn": (f"arn:{PARTITION}:apigateway:{where.region}:lambda:path/2015-03-31/functions/{arn}/invocations"),
        "qualifiedInvokeArn": (
            f"arn:{PARTITION}:apigateway:{where.region}:lambda:path/2015-03-31/functions/{arn}:1/invocations"
        ),
    }


def _table(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    name = _physical_name(logical, inputs)
    arn = where.arn("dynamodb", f"table/{name}")
    out: dict[str, Any] = {"name": name, "arn": arn}
    if inputs.get("streamEnabled"):
        out["streamLabel"] = "2026-11-23T00:00:00.000"
        out["streamArn"] = f"{arn}/stream/2026-11-23T00:00:00.000"
    return name, out


def _queue(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    name = _physical_name(logical, inputs)
    url = f"https://sqs.{where.region}.amazonaws.com/{where.account}/{name}"
    return url, {"name": name, "url": url, "arn": where.arn("sqs", name)}


def _prefixed_id(prefix: str, extra: Callable[[str, dict[str, Any], _Where], dict[str, Any]] | None = None):
    def build(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
        ident = f"{prefix}-{short_hash(logical, where.region, length=17)}"
        out: dict[str, Any] = {"id": ident}
        if extra:
            out.update(extra(ident, inputs, where))
        return ident, out

    return build


def _http_api(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    api_id = short_hash(logical, length=10)
    return api_id, {
        "apiEndpoint": f"https://{api_id}.execute-api.{where.region}.amazonaws.com",
        "executionArn": where.arn("execute-api", api_id),
        "arn": f"arn:{PARTITION}:apigateway:{where.region}::/apis/{api_id}",
    }


def _event_endpoint(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    name = _physical_name(logical, inputs)
    endpoint_id = f"{short_hash(logical, length=5)}.veo"
    return name, {
        "name": name,
        "arn": where.arn("events", f"endpoint/{name}"),
        "endpointUrl": f"https://{endpoint_id}.endpoints.event.amazonaws.com",
    }


def _health_check(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    check_id = f"{short_hash(logical, length=8)}-0000-4000-8000-{short_hash(logical, 'hc', length=12)}"
    return check_id, {"arn": f"arn:{PARTITION}:route53:::healthcheck/{check_id}"}


def _stage(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    name = inputs.get("name") or "$default"
    api_id = inputs.get("apiId", "api")
    path = "" if name == "$default" else f"/{name}"
    return name, {
        "invokeUrl": f"https://{api_id}.execute-api.{where.region}.amazonaws.com{path}",
        "executionArn": where.arn("execute-api", f"{api_id}/{name}"),
        "arn": f"arn:{PARTITION}:apigateway:{where.region}::/apis/{api_id}/stages/{name}",
    }


def _backup_plan(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    h = short_hash(logical, length=32)
    plan_id = f"{h[:8]}-{h[8:12]}-{h[12:16]}-{h[16:20]}-{h[20:32]}"
    return plan_id, {"arn": where.arn("backup", f"backup-plan:{plan_id}"), "version": short_hash(plan_id, length=32)}


def _rds_instance(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    name = _physical_name(logical, inputs, "identifier")
    address = f"{name}.c{short_hash(where.region, length=11)}.{where.region}.rds.amazonaws.com"
    return name, {
        "identifier": name,
        "arn": where.arn("rds", f"db:{name}"),
        "address": address,
        "endpoint": f"{address}:3306",
        "port": 3306,
        "resourceId": "db-" + short_hash(name, length=26).upper(),
    }


def _glue_table(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    """Glue catalog tables: id `<catalog>:<database>:<table>`, ARN `table/<database>/<table>`."""
    name = _physical_name(logical, inputs)
    database = inputs.get("databaseName", "default")
    return f"{where.account}:{database}:{name}", {
        "name": name,
        "catalogId": where.account,
        "arn": where.arn("glue", f"table/{database}/{name}"),
    }


def _s3_object(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    key = inputs.get("key") or logical
    return key, {"key": key, "versionId": short_hash(logical, key, length=32), "etag": short_hash(key, length=32)}


def _ecr_repository(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    name = _physical_name(logical, inputs)
    return name, {
        "name": name,
        "arn": where.arn("ecr", f"repository/{name}"),
        "registryId": where.account,
        "repositoryUrl": f"{where.account}.dkr.ecr.{where.region}.amazonaws.com/{name}",
    }


def _secret(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    """Secrets Manager appends six random characters to a secret's name in its ARN (the id is the ARN)."""
    name = _physical_name(logical, inputs)
    arn = where.arn("secretsmanager", f"secret:{name}-{short_hash(name, length=6)}")
    return arn, {"name": name, "arn": arn}


def _eks_cluster(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    """Outputs of the `eks:index:Cluster` multi-language component."""
    name = inputs.get("name") or f"{logical}-eksCluster-{short_hash(logical, length=7)}"
    oidc_id = short_hash(name, length=32).upper()
    issuer = f"oidc.eks.{where.region}.amazonaws.com/id/{oidc_id}"
    endpoint = f"https://{oidc_id}.gr7.{where.region}.eks.amazonaws.com"
    ca_data = "LS0tLS1CRUdJTiBDRVJUSUZJQ0FURS0tLS0tCk1PQ0sKLS0tLS1FTkQgQ0VSVElGSUNBVEUtLS0tLQo="
    kubeconfig = {
        "apiVersion": "v1",
        "kind": "Config",
        "clusters": [{"name": name, "cluster": {"server": endpoint, "certificate-authority-data": ca_data}}],
        "contexts": [{"name": "aws", "context": {"cluster": name, "user": "aws"}}],
        "current-context": "aws",
        "users": [
            {
                "name": "aws",
                "user": {
                    "exec": {
                        "apiVersion": "client.authentication.k8s.io/v1beta1",
                        "command": "aws",
                        "args": ["eks", "get-token", "--cluster-name", name, "--output", "json"],
                        "env": [
                            {
                                "name": "KUBERNETES_EXEC_INFO",
                                "value": '{"apiVersion": "client.authentication.k8s.io/v1beta1"}',
                            }
                        ],
                    }
                },
            }
        ],
    }
    return name, {
        "kubeconfig": kubeconfig,
        "kubeconfigJson": json.dumps(kubeconfig),
        "oidcProviderArn": f"arn:{PARTITION}:iam::{where.account}:oidc-provider/{issuer}",
        "oidcProviderUrl": f"https://{issuer}",
        "oidcIssuer": issuer,
        "clusterSecurityGroupId": f"sg-{short_hash(name, 'cluster', length=17)}",
        "nodeSecurityGroupId": f"sg-{short_hash(name, 'node', length=17)}",
        "eksClusterName": name,
        "eksClusterEndpoint": endpoint,
        "eksClusterArn": where.arn("eks", f"cluster/{name}"),
    }


def _event_connection(logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    """EventBridge keeps a connection's credential in a secret of its own, named after the connection."""
    name = inputs.get("name") or logical
    uuid = short_hash(name, "connection", length=8)
    return name, {
        "arn": where.arn("events", f"connection/{name}/{uuid}"),
        "secretArn": where.arn("secretsmanager", f"secret:events!connection/{name}/{uuid}-AbCdEf"),
    }


OUTPUT_BUILDERS: dict[str, OutputBuilder] = {
    "aws:cloudwatch/eventConnection:EventConnection": _event_connection,
    "aws:s3/bucket:Bucket": _bucket,
    "aws:s3/bucketV2:BucketV2": _bucket,
    "aws:kms/key:Key": _kms_key,
    "aws:kms/replicaKey:ReplicaKey": _kms_key,
    "aws:kms/alias:Alias": _kms_alias,
    "aws:iam/role:Role": _iam("role", "AROA"),
    "aws:iam/policy:Policy": _iam("policy", "ANPA"),
    "aws:iam/openIdConnectProvider:OpenIdConnectProvider": _oidc_provider,
    "aws:iam/serviceLinkedRole:ServiceLinkedRole": _service_linked_role,
    "aws:lambda/function:Function": _lambda,
    "aws:cloudwatch/logGroup:LogGroup": _named("logs", "log-group:{name}"),
    "aws:cloudwatch/metricAlarm:MetricAlarm": _named("cloudwatch", "alarm:{name}"),
    "aws:cloudwatch/dashboard:Dashboard": _named("cloudwatch", "dashboard/{name}", key="dashboardName"),
    "aws:cloudwatch/eventBus:EventBus": _named("events", "event-bus/{name}"),
    "aws:cloudwatch/eventRule:EventRule": _named("events", "rule/{name}"),
    "aws:cloudwatch/eventArchive:EventArchive": _named("events", "archive/{name}"),
    "aws:cloudwatch/eventEndpoint:EventEndpoint": _event_endpoint,
    "aws:route53/healthCheck:HealthCheck": _health_check,
    "aws:dynamodb/table:Table": _table,
    "aws:kinesis/stream:Stream": _named("kinesis", "stream/{name}", id_is="arn"),
    "aws:sqs/queue:Queue": _queue,
    "aws:sns/topic:Topic": _named("sns", "{name}", id_is="arn"),
    "aws:sfn/stateMachine:StateMachine": _named("states", "stateMachine:{name}", id_is="arn"),
    "aws:glue/catalogDatabase:CatalogDatabase": _named("glue", "database/{name}"),
    "aws:glue/crawler:Crawler": _named("glue", "crawler/{name}"),
    "aws:glue/job:Job": _named("glue", "job/{name}"),
    "aws:glue/catalogTable:CatalogTable": _glue_table,
    "aws:glue/securityConfiguration:SecurityConfiguration": _named("glue", "securityConfiguration/{name}"),
    "aws:s3/bucketObjectv2:BucketObjectv2": _s3_object,
    "aws:athena/workgroup:Workgroup": _named("athena", "workgroup/{name}"),
    "aws:athena/namedQuery:NamedQuery": _prefixed_id("nq"),
    "aws:backup/vault:Vault": _named("backup", "backup-vault:{name}"),
    "aws:backup/plan:Plan": _backup_plan,
    "aws:sagemaker/model:Model": _named("sagemaker", "model/{name}"),
    "aws:sagemaker/endpointConfiguration:EndpointConfiguration": _named("sagemaker", "endpoint-config/{name}"),
    "aws:sagemaker/endpoint:Endpoint": _named("sagemaker", "endpoint/{name}"),
    "aws:apigatewayv2/api:Api": _http_api,
    "aws:apigatewayv2/stage:Stage": _stage,
    "aws:rds/instance:Instance": _rds_instance,
    "aws:ec2/vpc:Vpc": _prefixed_id("vpc"),
    "aws:ec2/subnet:Subnet": _prefixed_id("subnet"),
    "aws:ec2/internetGateway:InternetGateway": _prefixed_id("igw"),
    "aws:ec2/natGateway:NatGateway": _prefixed_id("nat"),
    "aws:ec2/eip:Eip": _prefixed_id("eipalloc", lambda i, _in, _w: {"allocationId": i, "publicIp": "203.0.113.10"}),
    "aws:ec2/routeTable:RouteTable": _prefixed_id("rtb"),
    "aws:ec2/securityGroup:SecurityGroup": _prefixed_id(
        "sg", lambda i, _in, w: {"arn": w.arn("ec2", f"security-group/{i}")}
    ),
    "aws:ec2/launchTemplate:LaunchTemplate": _prefixed_id("lt", lambda i, _in, _w: {"latestVersion": 1}),
    "aws:ec2/vpcEndpoint:VpcEndpoint": _prefixed_id("vpce"),
    "aws:ecr/repository:Repository": _ecr_repository,
    "aws:secretsmanager/secret:Secret": _secret,
    "aws:codebuild/project:Project": _named("codebuild", "project/{name}"),
    "aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream": _named("firehose", "deliverystream/{name}"),
    "aws:cloudwatch/eventApiDestination:EventApiDestination": _named("events", "api-destination/{name}"),
    "eks:index:Cluster": _eks_cluster,
}


def _generic(typ: str, logical: str, inputs: dict[str, Any], where: _Where) -> tuple[str, dict[str, Any]]:
    """Fallback for types without a dedicated builder: an id and, for AWS resources, an ARN."""
    ident = f"{logical}-{short_hash(typ, logical, length=8)}"
    out: dict[str, Any] = {}
    if typ.startswith("aws:"):
        service = typ.split(":")[1].split("/")[0]
        out["arn"] = where.arn(service, f"{typ.rsplit(':', 1)[1].lower()}/{ident}")
    return ident, out


class RecordingMocks(pulumi.runtime.Mocks):
    """Answers resource registrations and provider calls the way AWS and the providers would."""

    def __init__(self, default_region: str) -> None:
        self.default_region = default_region
        self.provider_regions: dict[str, str] = {}

    def region_of(self, provider_ref: str | None) -> str:
        return self.provider_regions.get(provider_ref or "", self.default_region)

    def new_resource(self, args: MockResourceArgs) -> tuple[str | None, dict]:
        inputs = dict(args.inputs)
        if args.typ.startswith("pulumi:providers:"):
            return f"{args.name}-provider-id", inputs
        where = _Where(self.region_of(args.provider))
        builder = OUTPUT_BUILDERS.get(args.typ)
        if builder is not None:
            ident, outputs = builder(args.name, inputs, where)
        else:
            ident, outputs = _generic(args.typ, args.name, inputs, where)
        return ident, {**inputs, **outputs}

    def call(self, args: MockCallArgs) -> tuple[dict, list[tuple[str, str]]]:
        region = self.region_of(args.provider)
        function = args.token
        if function == "aws:index/getCallerIdentity:getCallerIdentity":
            return {
                "accountId": ACCOUNT_ID,
                "arn": f"arn:{PARTITION}:iam::{ACCOUNT_ID}:user/deployer",
                "userId": "AIDAEXAMPLEDEPLOYER",
                "id": ACCOUNT_ID,
            }, []
        if function == "aws:index/getRegion:getRegion":
            return {
                "id": region,
                "name": region,
                "region": region,
                "endpoint": f"ec2.{region}.amazonaws.com",
                "description": region,
            }, []
        if function == "aws:index/getPartition:getPartition":
            return {
                "id": PARTITION,
                "partition": PARTITION,
                "dnsSuffix": "amazonaws.com",
                "reverseDnsPrefix": "com.amazonaws",
            }, []
        if function == "aws:index/getAvailabilityZones:getAvailabilityZones":
            # Zone ids follow the region's short code (us-east-1 -> use1-az<n>); us-east-1 has six zones.
            area, direction, number = region.split("-")[-3:]
            count = 6 if region == "us-east-1" else 3
            names = [f"{region}{suffix}" for suffix in "abcdef"[:count]]
            zone_ids = [f"{area}{direction[0]}{number}-az{i}" for i in range(1, count + 1)]
            return {"id": region, "names": names, "zoneIds": zone_ids}, []
        if function == "aws:secretsmanager/getRandomPassword:getRandomPassword":
            # Deterministic and visibly fake: the plan marks it secret, no real credential is ever in it.
            length = int(args.args.get("passwordLength", 32))
            return {"id": "offline", "randomPassword": ("offlinePlaceholder" * 4)[:length]}, []
        if function == "aws:secretsmanager/getSecretVersion:getSecretVersion":
            # What a secret an operator filled answers; no real credential is ever in a plan.
            secret_id = args.args.get("secretId", "")
            return {
                "id": f"{secret_id}|AWSCURRENT",
                "arn": secret_id,
                "secretId": secret_id,
                "secretString": "offline-placeholder-not-a-credential",  # pragma: allowlist secret
                "secretBinary": "",
                "versionId": "00000000-0000-4000-8000-000000000000",
                "versionStage": "AWSCURRENT",
                "versionStages": ["AWSCURRENT"],
                "createdDate": "2026-01-01T00:00:00Z",
            }, []
        raise NotImplementedError(
            f"offline mocks do not answer the provider call {function!r}: add it to offline/mocks.py"
        )


@contextmanager
def _references_as_ids() -> Iterator[None]:
    """Deserialize resource references (pulumi_eks `cluster=`, `serviceRole=` ...) as their URN or ID.

    Rehydrating them as Resource objects would start `getResource` RPCs on the monitor's thread, which
    the program's event loop then awaits from another loop. The recorded inputs keep the URN / ID.
    """
    saved = rpc.get_resource_module, rpc.get_resource_package
    rpc.get_resource_module = rpc.get_resource_package = lambda *_args: None
    try:
        yield
    finally:
        rpc.get_resource_module, rpc.get_resource_package = saved


class RecordingMonitor(MockMonitor):
    """A mock resource monitor that keeps every registration with its options."""

    def __init__(self, mocks: RecordingMocks) -> None:
        super().__init__(mocks)
        self.recording_mocks = mocks
        self.records: list[RecordedResource] = []
        self.stack_outputs: dict[str, Any] = {}
        self._stack_urn = ""

    def RegisterResource(self, request):
        with _references_as_ids():
            return self._register(request)

    def _register(self, request):
        response = super().RegisterResource(request)
        if request.type == "pulumi:pulumi:Stack":
            self._stack_urn = response.urn
            return response
        inputs = rpc.deserialize_properties(request.object)
        registration = self.resources.get(response.urn)
        if request.type.startswith("pulumi:providers:aws"):
            region = inputs.get("region") or self.recording_mocks.default_region
            self.recording_mocks.provider_regions[f"{response.urn}::{response.id}"] = region
        self.records.append(
            RecordedResource(
                urn=response.urn,
                type=request.type,
                name=request.name,
                parent=request.parent,
                custom=bool(request.custom),
                remote=bool(request.remote),
                protect=bool(request.protect) if request.HasField("protect") else False,
                provider=request.provider,
                depends_on=list(request.dependencies),
                inputs=inputs,
                outputs=dict(registration.state) if registration else {},
                id=response.id,
            )
        )
        return response

    def RegisterResourceOutputs(self, request):
        if request.urn == self._stack_urn:
            self.stack_outputs.update(rpc.deserialize_properties(request.outputs))
        return super().RegisterResourceOutputs(request)
