"""The inference half of the feature store: SageMaker model, endpoint (serverless or provisioned, with
target-tracking autoscaling), and the HTTP API whose `predict` function reads features and invokes it."""

from __future__ import annotations

import hashlib
import json
from typing import Any

import pulumi
import pulumi_aws as aws

from components.feature_store.args import InferenceArgs, ecr_repository, s3_object
from components.iam import Statement, policy_document, service_trust_policy
from components.lambda_function import FunctionSpec
from components.scope import Scope

VARIANT = "AllTraffic"
PREDICT_ROUTE = "POST /predict"
# Both the predict function's and the API integration's timeout: predict's worst case (every attempt of
# every call timing out, tests/feature_store/test_predict_budget.py) ends inside it with the handler's own
# 502/503; API Gateway's HTTP API allows at most 30 s.
PREDICT_TIMEOUT_SECONDS = 15
# One JSON line per request in the API access log (API Gateway $context variables).
ACCESS_LOG_FORMAT = json.dumps(
    {
        "requestId": "$context.requestId",
        "ip": "$context.identity.sourceIp",
        "caller": "$context.identity.caller",
        "requestTime": "$context.requestTime",
        "routeKey": "$context.routeKey",
        "status": "$context.status",
        "responseLength": "$context.responseLength",
        "integrationError": "$context.integrationErrorMessage",
        "latencyMs": "$context.responseLatency",
    }
)


def model_fingerprint(args: InferenceArgs) -> str:
    """Short hash of what a model / endpoint config is made of.

    Both are immutable in SageMaker: a change must create new ones under new names, switch the endpoint
    over (a blue/green UpdateEndpoint), then delete the old ones.
    """
    settings = args.model_dump(
        include={"mode", "image", "model_data_url", "instance_type", "instance_count", "serverless_memory_mb"}
        | {"serverless_max_concurrency"}
    )
    return hashlib.sha256(json.dumps(settings, sort_keys=True).encode()).hexdigest()[:8]


class InferenceEndpoint:
    """Builds the model, endpoint config, endpoint and (in provisioned mode) its autoscaling."""

    def __init__(self, scope: Scope, args: InferenceArgs) -> None:
        ctx, kms_key_arn = scope.ctx, scope.key_arn
        self._scope, self._ctx, self._args = scope, ctx, args
        self.endpoint_name = scope.physical("model", service="sagemaker")
        self.endpoint_arn = scope.arn("sagemaker", f"endpoint/{self.endpoint_name}")
        fingerprint = model_fingerprint(args)
        self.log_group = aws.cloudwatch.LogGroup(
            scope.child("endpoint-logs"),
            name=f"/aws/sagemaker/Endpoints/{self.endpoint_name}",
            retention_in_days=ctx.config.log_retention_days,
            kms_key_id=kms_key_arn,
            opts=self._child(),
        )
        self.role = self._execution_role()
        self.model = aws.sagemaker.Model(
            scope.child("model"),
            name=scope.physical(f"model-{fingerprint}", service="sagemaker"),
            execution_role_arn=self.role.arn,
            primary_container={"image": args.image, "model_data_url": args.model_data_url, "mode": "SingleModel"},
            # The model needs no network: SageMaker fetches the artifact and image on its behalf. Serverless
            # endpoints do not support network isolation ("Feature exclusions" of Serverless Inference), so
            # only a provisioned model is isolated (the mode is part of the fingerprint: a new model name).
            enable_network_isolation=args.mode == "provisioned",
            opts=self._child(depends_on=[self.role_policy]),
        )
        self.endpoint_config = aws.sagemaker.EndpointConfiguration(
            scope.child("endpoint-config"),
            name=scope.physical(f"model-{fingerprint}", service="sagemaker"),
            production_variants=[self._variant()],
            # Provisioned variants: the instance's storage volume; serverless ones: the copy of the image
            # SageMaker keeps for the endpoint. Both under the component's key.
            kms_key_arn=kms_key_arn,
            opts=self._child(),
        )
        self.endpoint = aws.sagemaker.Endpoint(
            scope.child("endpoint"),
            name=self.endpoint_name,
            endpoint_config_name=self.endpoint_config.name,
            opts=self._child(depends_on=[self.log_group]),
        )
        if args.autoscaling is not None:
            self._autoscaling()

    def _child(self, **kwargs: Any) -> pulumi.ResourceOptions:
        return self._scope.opts(**kwargs)

    def _variant(self) -> dict[str, Any]:
        args = self._args
        variant: dict[str, Any] = {"variant_name": VARIANT, "model_name": self.model.name}
        if args.mode == "serverless":
            variant["serverless_config"] = {
                "memory_size_in_mb": args.serverless_memory_mb,
                "max_concurrency": args.serverless_max_concurrency,
            }
        else:
            variant.update(
                instance_type=args.instance_type, initial_instance_count=args.instance_count, initial_variant_weight=1
            )
        return variant

    def _execution_role(self) -> aws.iam.Role:
        ctx, args = self._ctx, self._args
        account, region, repository = ecr_repository(args.image)
        bucket, key = s3_object(args.model_data_url)
        repository_arn = pulumi.Output.concat("arn:", ctx.partition, f":ecr:{region}:{account}:repository/{repository}")
        statements = [
            Statement(sid="EcrLogin", actions=["ecr:GetAuthorizationToken"]),
            Statement(
                sid="PullModelImage",
                actions=["ecr:BatchGetImage", "ecr:GetDownloadUrlForLayer", "ecr:BatchCheckLayerAvailability"],
                resources=[repository_arn],
            ),
            Statement(
                sid="ReadModelArtifact",
                actions=["s3:GetObject"],
                resources=[pulumi.Output.concat("arn:", ctx.partition, f":s3:::{bucket}/{key}")],
            ),
            Statement(
                sid="WriteEndpointLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents", "logs:DescribeLogStreams"],
                resources=[pulumi.Output.concat(self.log_group.arn, ":*")],
            ),
            Statement(
                sid="PublishEndpointMetrics",
                actions=["cloudwatch:PutMetricData"],
                conditions={"StringLike": {"cloudwatch:namespace": "/aws/sagemaker/*"}},
            ),
        ]
        if args.model_data_kms_key_arn is not None:
            statements.append(
                Statement(sid="DecryptModelArtifact", actions=["kms:Decrypt"], resources=[args.model_data_kms_key_arn])
            )
        role, self.role_policy = self._scope.service_role(
            "model",
            name=self._scope.physical("model-exec", service="iam"),
            description=f"SageMaker execution role of endpoint {self.endpoint_name}",
            trust=service_trust_policy("sagemaker.amazonaws.com", source_account=ctx.account_id),
            statements=statements,
        )
        return role

    def _autoscaling(self) -> None:
        scaling = self._args.autoscaling
        assert scaling is not None
        target = aws.appautoscaling.Target(
            self._scope.child("endpoint-scaling"),
            service_namespace="sagemaker",
            resource_id=pulumi.Output.concat("endpoint/", self.endpoint.name, f"/variant/{VARIANT}"),
            scalable_dimension="sagemaker:variant:DesiredInstanceCount",
            min_capacity=scaling.min_capacity,
            max_capacity=scaling.max_capacity,
            opts=self._child(),
        )
        aws.appautoscaling.Policy(
            self._scope.child("endpoint-invocations"),
            name=self._scope.physical("model-invocations"),
            policy_type="TargetTrackingScaling",
            service_namespace=target.service_namespace,
            resource_id=target.resource_id,
            scalable_dimension=target.scalable_dimension,
            target_tracking_scaling_policy_configuration={
                "target_value": float(scaling.target_invocations_per_instance),
                "predefined_metric_specification": {"predefined_metric_type": "SageMakerVariantInvocationsPerInstance"},
                "scale_in_cooldown": scaling.scale_in_cooldown_seconds,
                "scale_out_cooldown": scaling.scale_out_cooldown_seconds,
            },
            opts=self._child(),
        )


class InferenceApi:
    """`POST /predict` on an HTTP API, proxied to the predict function (payload format 2.0)."""

    def __init__(
        self,
        scope: Scope,
        args: InferenceArgs,
        *,
        endpoint: InferenceEndpoint,
        table_name: pulumi.Input[str],
        table_arn: pulumi.Input[str],
    ) -> None:
        ctx, kms_key_arn = scope.ctx, scope.key_arn
        child = scope.opts()
        api_name = scope.physical("inference", service="apigw")
        self.function = scope.function(
            FunctionSpec(
                purpose="predict",
                module="feature_store.predict",
                include=["features", "store"],
                description="Reads a user's features and returns the model's prediction",
                statements=[
                    Statement(sid="ReadFeatures", actions=["dynamodb:GetItem"], resources=[table_arn]),
                    Statement(
                        sid="InvokeModel", actions=["sagemaker:InvokeEndpoint"], resources=[endpoint.endpoint_arn]
                    ),
                ],
                environment={"TABLE_NAME": table_name, "ENDPOINT_NAME": endpoint.endpoint_name},
                timeout=PREDICT_TIMEOUT_SECONDS,
                memory_size=256,
                reserved_concurrency=args.predict_reserved_concurrency,
            )
        )
        self.api = aws.apigatewayv2.Api(
            scope.child("api"),
            name=api_name,
            description="Live inference over the feature store",
            protocol_type="HTTP",
            opts=child,
        )
        integration = aws.apigatewayv2.Integration(
            scope.child("api-predict"),
            api_id=self.api.id,
            integration_type="AWS_PROXY",
            integration_uri=self.function.arn,
            integration_method="POST",
            payload_format_version="2.0",
            timeout_milliseconds=PREDICT_TIMEOUT_SECONDS * 1000,
            opts=child,
        )
        self.route = aws.apigatewayv2.Route(
            scope.child("api-route"),
            api_id=self.api.id,
            route_key=PREDICT_ROUTE,
            target=pulumi.Output.concat("integrations/", integration.id),
            authorization_type=args.api_authorization,
            opts=child,
        )
        self.access_logs = aws.cloudwatch.LogGroup(
            scope.child("api-logs"),
            name=f"/aws/apigateway/{api_name}",
            retention_in_days=ctx.config.log_retention_days,
            kms_key_id=kms_key_arn,
            opts=child,
        )
        self.stage = aws.apigatewayv2.Stage(
            scope.child("api-stage"),
            api_id=self.api.id,
            name="$default",
            auto_deploy=True,
            access_log_settings={"destination_arn": self.access_logs.arn, "format": ACCESS_LOG_FORMAT},
            default_route_settings={
                "throttling_rate_limit": args.api_throttle_rate,
                "throttling_burst_limit": args.api_throttle_burst,
                "detailed_metrics_enabled": True,
            },
            opts=child,
        )
        aws.lambda_.Permission(
            scope.child("api-invoke"),
            action="lambda:InvokeFunction",
            function=self.function.name,
            principal="apigateway.amazonaws.com",
            # Only this API's predict route may invoke it, from any stage.
            source_arn=pulumi.Output.concat(self.api.execution_arn, "/*/POST/predict"),
            opts=child,
        )
        self.url = pulumi.Output.concat(self.api.api_endpoint, "/predict")
        self.client_policy: aws.iam.Policy | None = None
        if args.api_authorization == "AWS_IAM":
            # What a caller's role attaches to be let through the IAM-authorised route, and nothing more.
            self.client_policy = aws.iam.Policy(
                scope.child("api-client"),
                name=scope.physical("predict-client", service="iam"),
                description="Call POST /predict on the feature store inference API",
                policy=policy_document(
                    Statement(
                        sid="CallPredict",
                        actions=["execute-api:Invoke"],
                        resources=[pulumi.Output.concat(self.api.execution_arn, "/$default/POST/predict")],
                    )
                ),
                opts=child,
            )
