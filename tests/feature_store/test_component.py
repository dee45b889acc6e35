"""FeatureStorePipeline under the recording mocks: the inputs that reach each resource, per stack."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

from components.config import ConfigError, parse_stack_config
from components.feature_store.args import InferenceArgs
from components.feature_store.inference import model_fingerprint
from components.lambda_function import handler_archive
from offline.mocks import ACCOUNT_ID
from offline.policy_run import evaluate, waivers_of
from offline.runner import PlanGraph
from tests.conftest import PlanFactory, stack_config

COMPONENT_TYPE = "platform:index:FeatureStorePipeline"
KINESIS_READ = [
    "kinesis:DescribeStream",
    "kinesis:DescribeStreamSummary",
    "kinesis:GetRecords",
    "kinesis:GetShardIterator",
    "kinesis:ListShards",
]


def mine(plan: PlanGraph, type_token: str, name: str | None = None) -> Any:
    """The one resource of a type inside the feature store component."""
    component = plan.one(COMPONENT_TYPE)
    found = [
        r
        for r in plan.descendants(component)
        if r.type == type_token and (name is None or r.name == name or r.name.endswith(f"-{name}"))
    ]
    assert len(found) == 1, f"expected one {type_token} {name or ''}, found {[r.name for r in found]}"
    return found[0]


def all_mine(plan: PlanGraph, type_token: str) -> list[Any]:
    return [r for r in plan.descendants(plan.one(COMPONENT_TYPE)) if r.type == type_token]


def grants(plan: PlanGraph, policy_name: str) -> set[tuple[str, str]]:
    """Every (action, resource) pair a role policy allows."""
    document = json.loads(mine(plan, "aws:iam/rolePolicy:RolePolicy", policy_name).inputs["policy"])
    pairs: set[tuple[str, str]] = set()
    for statement in document["Statement"]:
        assert statement["Effect"] == "Allow"
        actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
        resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
        pairs |= {(a, r) for a in actions for r in resources}
    return pairs


def arn(service: str, resource: str, region: str = "eu-west-1") -> str:
    return f"arn:aws:{service}:{region}:{ACCOUNT_ID}:{resource}"


# --- stream -> enrichment ------------------------------------------------------------------------


def test_mapping_reads_from_the_start_with_partial_failures_and_a_failure_bucket(dev_plan: PlanGraph) -> None:
    mapping = mine(dev_plan, "aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    assert mapping["eventSourceArn"] == mine(dev_plan, "aws:kinesis/stream:Stream").outputs["arn"]
    assert mapping["functionName"] == arn("lambda", "function:platform-dev-featurestore-enrich")
    assert mapping["startingPosition"] == "TRIM_HORIZON"
    assert mapping["functionResponseTypes"] == ["ReportBatchItemFailures"]
    assert mapping["bisectBatchOnFunctionError"] is True
    assert (mapping["batchSize"], mapping["maximumBatchingWindowInSeconds"], mapping["parallelizationFactor"]) == (
        100,
        5,
        1,
    )
    assert (mapping["maximumRetryAttempts"], mapping["maximumRecordAgeInSeconds"]) == (3, 3600)
    bucket = mine(dev_plan, "aws:s3/bucket:Bucket", "feature-store-enrich-failures-bucket")
    assert bucket.outputs["arn"] == f"arn:aws:s3:::platform-dev-featurestore-failures-{ACCOUNT_ID}-eu-west-1"
    assert mapping["destinationConfig"] == {"onFailure": {"destinationArn": bucket.outputs["arn"]}}
    assert all_mine(dev_plan, "aws:sqs/queue:Queue") == []


def test_failure_bucket_is_cmk_encrypted_tls_only_private_and_expires_parked_batches(dev_plan: PlanGraph) -> None:
    key_arn = mine(dev_plan, "aws:kms/key:Key").outputs["arn"]
    bucket = mine(dev_plan, "aws:s3/bucket:Bucket", "feature-store-enrich-failures-bucket")
    encryption = mine(
        dev_plan, "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    )
    assert encryption.inputs["rules"] == [
        {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn},
            "bucketKeyEnabled": True,
        }
    ]
    (deny,) = json.loads(mine(dev_plan, "aws:s3/bucketPolicy:BucketPolicy").inputs["policy"])["Statement"]
    assert deny["Effect"] == "Deny" and deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
    assert deny["Resource"] == [bucket.outputs["arn"], bucket.outputs["arn"] + "/*"]
    block = mine(dev_plan, "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock").inputs
    assert all(block[k] for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets"))
    rules = {
        r["id"]: r
        for r in mine(dev_plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs["rules"]
    }
    assert rules["expire-parked-batches"]["expiration"] == {"days": 14}
    assert rules["expire-noncurrent-versions"]["noncurrentVersionExpiration"] == {"noncurrentDays": 1}


def test_failure_retention_follows_the_config(plan_with: PlanFactory) -> None:
    plan = plan_with("dev", {"platform:featureStore": {"failureRetentionDays": 3}})
    lifecycle = mine(plan, "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration").inputs
    assert {r["id"]: r.get("expiration") for r in lifecycle["rules"]}["expire-parked-batches"] == {"days": 3}


def test_prod_mapping_follows_its_stack_file(prod_plan: PlanGraph) -> None:
    mapping = mine(prod_plan, "aws:lambda/eventSourceMapping:EventSourceMapping").inputs
    assert (mapping["batchSize"], mapping["parallelizationFactor"], mapping["maximumRetryAttempts"]) == (500, 2, 5)
    stream = mine(prod_plan, "aws:kinesis/stream:Stream").inputs
    assert stream["shardCount"] == 2 and stream["streamModeDetails"] == {"streamMode": "PROVISIONED"}
    assert stream["retentionPeriod"] == 168
    enrich = mine(prod_plan, "aws:lambda/function:Function", "feature-store-enrich-function").inputs
    assert enrich["reservedConcurrentExecutions"] == 8  # shards x parallelization factor = 4, with headroom
    variables = enrich["environment"]["variables"]
    names = ("TABLE_NAME", "FEATURE_TTL_DAYS", "WRITE_CONCURRENCY", "PARALLELIZATION_FACTOR", "FUTURE_SKEW_SECONDS")
    assert {k: variables[k] for k in names} == {
        "TABLE_NAME": "platform-prod-featurestore-features",
        "FEATURE_TTL_DAYS": "30",
        "WRITE_CONCURRENCY": "16",
        # The handler then refuses records not keyed by userId (order is kept per partition key only).
        "PARALLELIZATION_FACTOR": "2",
        "FUTURE_SKEW_SECONDS": "300",
    }


def test_on_demand_stream_sets_no_shard_count(staging_plan: PlanGraph) -> None:
    stream = mine(staging_plan, "aws:kinesis/stream:Stream").inputs
    assert stream["streamModeDetails"] == {"streamMode": "ON_DEMAND"}
    assert "shardCount" not in stream


def test_enrichment_function_ships_its_sibling_modules() -> None:
    names = set(handler_archive("feature_store.enrich", ["features", "store"]).assets)
    assert {
        "handlers/feature_store/enrich.py",
        "handlers/feature_store/features.py",
        "handlers/feature_store/store.py",
        "handlers/feature_store/__init__.py",
        "handlers/common/aws.py",
    } <= names
    assert "handlers/feature_store/predict.py" not in names


# --- encryption and protection ---------------------------------------------------------------------


def test_stream_table_topic_and_logs_use_the_component_key(dev_plan: PlanGraph) -> None:
    key_arn = mine(dev_plan, "aws:kms/key:Key").outputs["arn"]
    stream = mine(dev_plan, "aws:kinesis/stream:Stream").inputs
    assert (stream["encryptionType"], stream["kmsKeyId"]) == ("KMS", key_arn)
    table = mine(dev_plan, "aws:dynamodb/table:Table").inputs
    assert table["serverSideEncryption"] == {"enabled": True, "kmsKeyArn": key_arn}
    assert mine(dev_plan, "aws:sns/topic:Topic").inputs["kmsMasterKeyId"] == key_arn
    log_groups = all_mine(dev_plan, "aws:cloudwatch/logGroup:LogGroup")
    assert {g.inputs["name"] for g in log_groups} == {
        "/aws/lambda/platform-dev-featurestore-enrich",
        "/aws/lambda/platform-dev-featurestore-predict",
        "/aws/sagemaker/Endpoints/platform-dev-featurestore-model",
        "/aws/apigateway/platform-dev-featurestore-inference",
    }
    assert all(g.inputs["kmsKeyId"] == key_arn and g.inputs["retentionInDays"] == 14 for g in log_groups)
    key = mine(dev_plan, "aws:kms/key:Key").inputs
    assert key["enableKeyRotation"] is True
    principals = {json.dumps(s.get("Principal"), sort_keys=True) for s in json.loads(key["policy"])["Statement"]}
    assert principals == {
        json.dumps({"AWS": f"arn:aws:iam::{ACCOUNT_ID}:root"}),
        json.dumps({"Service": "logs.eu-west-1.amazonaws.com"}),
        json.dumps({"Service": "cloudwatch.amazonaws.com"}),
    }


def test_table_is_keyed_by_user_on_demand_with_pitr_ttl_and_backup_tag(dev_plan: PlanGraph) -> None:
    table = mine(dev_plan, "aws:dynamodb/table:Table").inputs
    assert table["name"] == "platform-dev-featurestore-features"
    assert (table["hashKey"], table["attributes"]) == ("userId", [{"name": "userId", "type": "S"}])
    assert table["billingMode"] == "PAY_PER_REQUEST"
    assert table["pointInTimeRecovery"] == {"enabled": True}
    assert table["ttl"] == {"attributeName": "expiresAt", "enabled": True}
    assert table["tags"] == {"BackupEnabled": "true"}


@pytest.mark.parametrize(("plan_fixture", "protected"), [("dev_plan", False), ("prod_plan", True)])
def test_stateful_resources_are_protected_in_prod_only(request, plan_fixture: str, protected: bool) -> None:
    plan: PlanGraph = request.getfixturevalue(plan_fixture)
    for type_token in ("aws:kinesis/stream:Stream", "aws:dynamodb/table:Table", "aws:s3/bucket:Bucket"):
        assert mine(plan, type_token).protect is protected, type_token
    assert mine(plan, "aws:kms/key:Key").protect is protected
    assert mine(plan, "aws:dynamodb/table:Table").inputs["deletionProtectionEnabled"] is protected


# --- least privilege -----------------------------------------------------------------------------------


def _standard(function: str, key_arn: str) -> set[tuple[str, str]]:
    log_group = arn("logs", f"log-group:/aws/lambda/platform-dev-featurestore-{function}:*")
    return {
        ("logs:CreateLogStream", log_group),
        ("logs:PutLogEvents", log_group),
        ("xray:PutTraceSegments", "*"),
        ("xray:PutTelemetryRecords", "*"),
        ("kms:Decrypt", key_arn),
    }


def test_enrichment_role_reads_the_stream_and_writes_the_table_only(dev_plan: PlanGraph) -> None:
    key_arn = mine(dev_plan, "aws:kms/key:Key").outputs["arn"]
    stream = arn("kinesis", "stream/platform-dev-featurestore-events")
    table = arn("dynamodb", "table/platform-dev-featurestore-features")
    bucket = mine(dev_plan, "aws:s3/bucket:Bucket").outputs["arn"]
    assert grants(dev_plan, "feature-store-enrich-policy") == _standard("enrich", key_arn) | {
        *((action, stream) for action in KINESIS_READ),
        ("dynamodb:PutItem", table),
        ("dynamodb:BatchGetItem", table),
        ("s3:ListBucket", bucket),
        ("s3:PutObject", f"{bucket}/*"),
        ("kms:GenerateDataKey", key_arn),
    }


def test_enrichment_role_grants_exactly_the_dynamodb_calls_its_handler_makes(dev_plan: PlanGraph) -> None:
    handlers = Path(__file__).resolve().parents[2] / "handlers" / "feature_store"
    source = "".join((handlers / f"{module}.py").read_text() for module in ("enrich", "store"))
    called = {
        "dynamodb:" + "".join(part.title() for part in operation.split("_"))
        for operation in re.findall(r"client\.(\w+)\(", source)
    }
    granted = {a for a, _ in grants(dev_plan, "feature-store-enrich-policy") if a.startswith("dynamodb:")}
    assert called == granted == {"dynamodb:BatchGetItem", "dynamodb:PutItem"}


def test_predict_role_may_only_get_items_and_invoke_that_endpoint(dev_plan: PlanGraph) -> None:
    key_arn = mine(dev_plan, "aws:kms/key:Key").outputs["arn"]
    endpoint = mine(dev_plan, "aws:sagemaker/endpoint:Endpoint")
    assert grants(dev_plan, "feature-store-predict-policy") == _standard("predict", key_arn) | {
        ("dynamodb:GetItem", arn("dynamodb", "table/platform-dev-featurestore-features")),
        ("sagemaker:InvokeEndpoint", endpoint.outputs["arn"]),
    }
    predict = mine(dev_plan, "aws:lambda/function:Function", "feature-store-predict-function").inputs
    assert predict["environment"]["variables"]["ENDPOINT_NAME"] == endpoint.inputs["name"]
    assert predict["environment"]["variables"]["TABLE_NAME"] == "platform-dev-featurestore-features"


def test_model_role_pulls_its_image_and_artifact_only(dev_plan: PlanGraph) -> None:
    log_group = arn("logs", "log-group:/aws/sagemaker/Endpoints/platform-dev-featurestore-model:*")
    assert grants(dev_plan, "feature-store-model-policy") == {
        ("ecr:GetAuthorizationToken", "*"),
        *(
            (action, arn("ecr", "repository/feature-model"))
            for action in ("ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability")
        ),
        ("s3:GetObject", "arn:aws:s3:::platform-dev-ml-artifacts/feature-model/1.3.0/model.tar.gz"),
        *((action, log_group) for action in ("logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams")),
        ("cloudwatch:PutMetricData", "*"),
    }
    trust = json.loads(mine(dev_plan, "aws:iam/role:Role", "feature-store-model-role").inputs["assumeRolePolicy"])
    assert trust["Statement"][0]["Principal"] == {"Service": "sagemaker.amazonaws.com"}


def test_producer_policy_puts_records_on_this_stream_only(dev_plan: PlanGraph) -> None:
    policy = mine(dev_plan, "aws:iam/policy:Policy", "feature-store-producer").inputs
    statements = json.loads(policy["policy"])["Statement"]
    assert [(s["Action"], s["Resource"]) for s in statements] == [
        (
            ["kinesis:DescribeStreamSummary", "kinesis:PutRecord", "kinesis:PutRecords"],
            arn("kinesis", "stream/platform-dev-featurestore-events"),
        ),
        ("kms:GenerateDataKey", mine(dev_plan, "aws:kms/key:Key").outputs["arn"]),
    ]


def test_replay_policy_reads_parked_batches_and_writes_the_table_only(dev_plan: PlanGraph) -> None:
    bucket = mine(dev_plan, "aws:s3/bucket:Bucket").outputs["arn"]
    policy = json.loads(mine(dev_plan, "aws:iam/policy:Policy", "feature-store-replay").inputs["policy"])
    assert [(s["Action"], s["Resource"]) for s in policy["Statement"]] == [
        ("s3:ListBucket", bucket),
        ("s3:GetObject", f"{bucket}/*"),
        (["dynamodb:BatchGetItem", "dynamodb:PutItem"], arn("dynamodb", "table/platform-dev-featurestore-features")),
        ("kms:Decrypt", mine(dev_plan, "aws:kms/key:Key").outputs["arn"]),
    ]
    assert dev_plan.outputs["featureStore"]["replayPolicyArn"] == arn(
        "iam", "policy/platform-dev-featurestore-replay", ""
    )


# --- endpoint by environment -----------------------------------------------------------------------------


def test_dev_runs_a_serverless_endpoint_without_autoscaling(dev_plan: PlanGraph) -> None:
    config = mine(dev_plan, "aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs
    model = mine(dev_plan, "aws:sagemaker/model:Model").inputs
    assert config["productionVariants"] == [
        {
            "variantName": "AllTraffic",
            "modelName": model["name"],
            "serverlessConfig": {"memorySizeInMb": 2048, "maxConcurrency": 2},
        }
    ]
    assert config["kmsKeyArn"] == mine(dev_plan, "aws:kms/key:Key").outputs["arn"]  # the serverless image copy
    # Serverless Inference does not support network isolation: an isolated model would fail the endpoint.
    assert model["enableNetworkIsolation"] is False
    assert all_mine(dev_plan, "aws:appautoscaling/target:Target") == []
    endpoint = mine(dev_plan, "aws:sagemaker/endpoint:Endpoint").inputs
    assert endpoint == {"name": "platform-dev-featurestore-model", "endpointConfigName": config["name"]}


def test_prod_runs_provisioned_instances_with_target_tracking(prod_plan: PlanGraph) -> None:
    config = mine(prod_plan, "aws:sagemaker/endpointConfiguration:EndpointConfiguration").inputs
    (variant,) = config["productionVariants"]
    assert (variant["instanceType"], variant["initialInstanceCount"]) == ("ml.m5.large", 2)
    assert "serverlessConfig" not in variant
    assert config["kmsKeyArn"] == mine(prod_plan, "aws:kms/key:Key").outputs["arn"]
    model = mine(prod_plan, "aws:sagemaker/model:Model").inputs
    assert model["primaryContainer"]["image"] == "123456789012.dkr.ecr.us-east-1.amazonaws.com/feature-model:1.3.0"
    assert model["enableNetworkIsolation"] is True
    target = mine(prod_plan, "aws:appautoscaling/target:Target").inputs
    assert target == {
        "serviceNamespace": "sagemaker",
        "resourceId": "endpoint/platform-prod-featurestore-model/variant/AllTraffic",
        "scalableDimension": "sagemaker:variant:DesiredInstanceCount",
        "minCapacity": 2,
        "maxCapacity": 6,
    }
    policy = mine(prod_plan, "aws:appautoscaling/policy:Policy").inputs
    assert policy["policyType"] == "TargetTrackingScaling"
    assert policy["resourceId"] == target["resourceId"]
    tracking = policy["targetTrackingScalingPolicyConfiguration"]
    assert tracking["predefinedMetricSpecification"] == {
        "predefinedMetricType": "SageMakerVariantInvocationsPerInstance"
    }
    assert tracking["targetValue"] == 200


def test_model_and_config_are_renamed_when_what_they_are_made_of_changes() -> None:
    base = {"image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/m:1", "modelDataUrl": "s3://models/m.tar.gz"}
    same = model_fingerprint(InferenceArgs.model_validate(base))
    assert same == model_fingerprint(InferenceArgs.model_validate({**base, "apiThrottleRate": 5}))
    assert same != model_fingerprint(InferenceArgs.model_validate({**base, "image": base["image"][:-1] + "2"}))
    assert same != model_fingerprint(InferenceArgs.model_validate({**base, "serverlessMaxConcurrency": 9}))


# --- API -------------------------------------------------------------------------------------------------


def test_api_routes_signed_post_predict_to_the_predict_function(dev_plan: PlanGraph) -> None:
    api = mine(dev_plan, "aws:apigatewayv2/api:Api")
    assert api.inputs["protocolType"] == "HTTP"
    integration = mine(dev_plan, "aws:apigatewayv2/integration:Integration").inputs
    assert (integration["integrationType"], integration["payloadFormatVersion"]) == ("AWS_PROXY", "2.0")
    assert integration["integrationUri"] == arn("lambda", "function:platform-dev-featurestore-predict")
    predict = mine(dev_plan, "aws:lambda/function:Function", "feature-store-predict-function").inputs
    assert (predict["timeout"], integration["timeoutMilliseconds"]) == (15, 15_000)
    route = mine(dev_plan, "aws:apigatewayv2/route:Route")
    assert (route.inputs["routeKey"], route.inputs["authorizationType"]) == ("POST /predict", "AWS_IAM")
    integration_id = mine(dev_plan, "aws:apigatewayv2/integration:Integration").id
    assert route.inputs["target"] == f"integrations/{integration_id}"
    permission = mine(dev_plan, "aws:lambda/permission:Permission").inputs
    assert permission["principal"] == "apigateway.amazonaws.com"
    assert permission["sourceArn"] == f"{api.outputs['executionArn']}/*/POST/predict"
    stage = mine(dev_plan, "aws:apigatewayv2/stage:Stage").inputs
    assert stage["defaultRouteSettings"]["throttlingRateLimit"] == 10
    assert stage["accessLogSettings"]["destinationArn"].endswith(
        ":log-group:/aws/apigateway/platform-dev-featurestore-inference"
    )
    client = json.loads(mine(dev_plan, "aws:iam/policy:Policy", "feature-store-api-client").inputs["policy"])
    assert client["Statement"][0]["Resource"] == f"{api.outputs['executionArn']}/$default/POST/predict"


# --- alarms and outputs ----------------------------------------------------------------------------------


def _alarms(plan: PlanGraph, stack: str = "dev") -> dict[str, dict[str, Any]]:
    prefix = f"platform-{stack}-featurestore-"
    alarms = all_mine(plan, "aws:cloudwatch/metricAlarm:MetricAlarm")
    return {a.inputs["name"].removeprefix(prefix): a.inputs for a in alarms}


def test_alarms_watch_lag_errors_throttles_parked_records_api_and_model(dev_plan: PlanGraph) -> None:
    topic = mine(dev_plan, "aws:sns/topic:Topic").outputs["arn"]
    alarms = _alarms(dev_plan)
    enrich = {"FunctionName": "platform-dev-featurestore-enrich"}
    predict = {"FunctionName": "platform-dev-featurestore-predict"}
    api = mine(dev_plan, "aws:apigatewayv2/api:Api").id
    stage = {"ApiId": api, "Stage": "$default"}
    model = {"EndpointName": "platform-dev-featurestore-model", "VariantName": "AllTraffic"}
    watched = {
        name: (a["namespace"], a["metricName"], a["dimensions"], a.get("statistic") or a.get("extendedStatistic"))
        for name, a in alarms.items()
    }
    assert watched == {
        "iterator-age": ("AWS/Lambda", "IteratorAge", enrich, "Maximum"),
        "enrich-errors": ("AWS/Lambda", "Errors", enrich, "Sum"),
        "enrich-throttles": ("AWS/Lambda", "Throttles", enrich, "Sum"),
        "table-write-throttles": (
            "AWS/DynamoDB",
            "WriteThrottleEvents",
            {"TableName": "platform-dev-featurestore-features"},
            "Sum",
        ),
        "table-read-throttles": (
            "AWS/DynamoDB",
            "ReadThrottleEvents",
            {"TableName": "platform-dev-featurestore-features"},
            "Sum",
        ),
        "enrich-failed-records": ("Platform/FeatureStore", "RecordsFailed", enrich, "Sum"),
        "enrich-malformed-records": ("Platform/FeatureStore", "MalformedRecords", enrich, "Sum"),
        "enrich-parking-failures": ("AWS/Lambda", "DestinationDeliveryFailures", enrich, "Sum"),
        "predict-errors": ("AWS/Lambda", "Errors", predict, "Sum"),
        "predict-throttles": ("AWS/Lambda", "Throttles", predict, "Sum"),
        "model-errors": ("AWS/SageMaker", "Invocation5XXErrors", model, "Sum"),
        "model-latency": ("AWS/SageMaker", "ModelLatency", model, "p99"),
        "api-5xx": ("AWS/ApiGateway", "5xx", stage, "Sum"),
        "api-latency": ("AWS/ApiGateway", "Latency", stage, "p99"),
    }
    thresholds = {name: (a["threshold"], a["comparisonOperator"]) for name, a in alarms.items()}
    assert thresholds["iterator-age"] == (600_000, "GreaterThanThreshold")
    assert thresholds["model-latency"] == (1_000_000, "GreaterThanThreshold")  # 1000 ms in microseconds
    assert thresholds["api-latency"] == (3000, "GreaterThanThreshold")
    for name in ("enrich-failed-records", "enrich-malformed-records", "enrich-parking-failures", "api-5xx"):
        assert thresholds[name] == (0, "GreaterThanThreshold"), name
    assert "statistic" not in alarms["api-latency"]
    assert all(a["alarmActions"] == [topic] for a in alarms.values())


def test_latency_alarm_thresholds_follow_the_config(plan_with: PlanFactory) -> None:
    plan = plan_with(
        "dev", {"platform:featureStore": {"inference": {"apiLatencyAlarmMs": 800, "modelLatencyAlarmMs": 250}}}
    )
    alarms = _alarms(plan)
    assert (alarms["api-latency"]["threshold"], alarms["model-latency"]["threshold"]) == (800, 250_000)


def test_one_dashboard_shows_what_the_alarms_watch(dev_plan: PlanGraph) -> None:
    dashboard = mine(dev_plan, "aws:cloudwatch/dashboard:Dashboard").inputs
    assert dashboard["dashboardName"] == "platform-dev-featurestore-pipeline"
    widgets = json.loads(dashboard["dashboardBody"])["widgets"]
    shown = {(m[0], m[1]) for w in widgets for m in w["properties"]["metrics"]}
    watched = {(a["namespace"], a["metricName"]) for a in _alarms(dev_plan).values()}
    assert watched <= shown
    assert all(w["properties"]["region"] == "eu-west-1" for w in widgets)
    latency = next(w for w in widgets if w["properties"]["metrics"][0][:2] == ["AWS/ApiGateway", "Latency"])
    api = mine(dev_plan, "aws:apigatewayv2/api:Api").id
    assert latency["properties"]["stat"] == "p99"
    assert latency["properties"]["metrics"][0][2:] == ["ApiId", api, "Stage", "$default"]
    assert dev_plan.outputs["featureStore"]["dashboardName"] == "platform-dev-featurestore-pipeline"


def test_prod_alarm_topic_mails_the_on_call(prod_plan: PlanGraph) -> None:
    topic = mine(prod_plan, "aws:sns/topic:Topic").outputs["arn"]
    subscription = mine(prod_plan, "aws:sns/topicSubscription:TopicSubscription").inputs
    assert (subscription["topic"], subscription["protocol"], subscription["endpoint"]) == (
        topic,
        "email",
        "platform-oncall@example.com",
    )


def test_prod_without_an_alarm_subscriber_is_refused() -> None:
    config = {k: v if isinstance(v, str) else json.dumps(v) for k, v in stack_config("prod").items()}
    section = {k: v for k, v in json.loads(config["platform:featureStore"]).items() if k != "alarmEmail"}
    parse_stack_config(config, project="platform", stack="prod")  # as shipped: valid
    with pytest.raises(ConfigError, match=r"featureStore.alarmEmail: required in prod"):
        parse_stack_config({**config, "platform:featureStore": json.dumps(section)}, project="platform", stack="prod")


def test_stack_exports_what_callers_use(dev_plan: PlanGraph) -> None:
    outputs = dev_plan.outputs["featureStore"]
    assert outputs["streamName"] == "platform-dev-featurestore-events"
    assert outputs["tableName"] == "platform-dev-featurestore-features"
    assert outputs["endpointName"] == "platform-dev-featurestore-model"
    api = mine(dev_plan, "aws:apigatewayv2/api:Api").outputs["apiEndpoint"]
    assert outputs["apiUrl"] == f"{api}/predict"
    assert outputs["streamArn"] == arn("kinesis", "stream/platform-dev-featurestore-events")
    assert outputs["failureBucket"] == f"platform-dev-featurestore-failures-{ACCOUNT_ID}-eu-west-1"


def test_features_only_pipeline_has_no_endpoint_or_api(plan_with: PlanFactory) -> None:
    plan = plan_with("dev", {"platform:featureStore": {"inference": None}})
    assert all_mine(plan, "aws:sagemaker/endpoint:Endpoint") == []
    assert all_mine(plan, "aws:apigatewayv2/api:Api") == []
    assert len(all_mine(plan, "aws:lambda/function:Function")) == 1
    assert set(plan.outputs["featureStore"]) == {
        "streamName",
        "streamArn",
        "tableName",
        "failureBucket",
        "producerPolicyArn",
        "replayPolicyArn",
        "dashboardName",
        "alarmTopicArn",
    }
    assert set(_alarms(plan)) == {
        "iterator-age",
        "enrich-errors",
        "enrich-throttles",
        "table-write-throttles",
        "table-read-throttles",
        "enrich-failed-records",
        "enrich-malformed-records",
        "enrich-parking-failures",
    }


@pytest.mark.parametrize("stack", ["dev", "prod", "staging"])
def test_guardrails_find_nothing_in_the_feature_store(request, stack: str) -> None:
    plan: PlanGraph = request.getfixturevalue(f"{stack}_plan")
    report = evaluate(plan, waivers_of(stack_config(stack)))
    urns = {r.urn for r in plan.descendants(plan.one(COMPONENT_TYPE))}
    assert [(v.policy, v.resource_name, v.message) for v in report.violations if v.urn in urns] == []


# --- configuration ---------------------------------------------------------------------------------------


def parse(feature_store: dict[str, Any]) -> None:
    raw = {
        "aws:region": "eu-west-1",
        "platform:environment": "dev",
        "platform:drRegion": "eu-central-1",
        "platform:tags": json.dumps({"owner": "t", "costCenter": "c"}),
        "platform:featureStore": json.dumps(feature_store),
    }
    parse_stack_config(raw, project="platform", stack="dev")


INFERENCE = {"image": "123456789012.dkr.ecr.eu-west-1.amazonaws.com/m:1", "modelDataUrl": "s3://bucket/m.tar.gz"}


@pytest.mark.parametrize(
    ("section", "message"),
    [
        (
            {"shardCount": 4, "parallelizationFactor": 2, "enrichReservedConcurrency": 5},
            "enrichReservedConcurrency 5 is below shardCount x parallelizationFactor (4 x 2 = 8)",
        ),
        ({"inference": {**INFERENCE, "autoscaling": {}}}, "autoscaling is set but mode is 'serverless'"),
        (
            {"inference": {**INFERENCE, "mode": "provisioned", "instanceCount": 5, "autoscaling": {"maxCapacity": 4}}},
            "instanceCount 5 lies outside autoscaling minCapacity..maxCapacity 1..4",
        ),
        ({"inference": {**INFERENCE, "image": "docker.io/library/model:1"}}, "is not an ECR image URI"),
        ({"inference": {**INFERENCE, "modelDataUrl": "https://x/m.tar.gz"}}, "is not an s3://bucket/key URL"),
        (
            {"inference": {**INFERENCE, "serverlessMemoryMb": 1500}},
            "platform:featureStore.inference.serverlessMemoryMb",
        ),
        ({"batchSize": 0}, "platform:featureStore.batchSize: got 0"),
        ({"futureSkewSeconds": -1}, "platform:featureStore.futureSkewSeconds: got -1"),
        ({"streamMode": "AUTO"}, "platform:featureStore.streamMode"),
    ],
)
def test_bad_settings_are_refused_with_the_key_and_value(section: dict[str, Any], message: str) -> None:
    with pytest.raises(ConfigError) as error:
        parse(section)
    assert message in str(error.value)
