# ruff: noqa: E501 -- the bindings are a table: one Pulumi property -> API member pair per entry, unwrapped.
"""(4) Inputs AWS accepts: the plan's resource inputs against the API models botocore ships.

`BINDINGS` maps a Pulumi property (path in the resource's inputs; `[]` walks a list) to the member of
the API operation the provider sends it to (same path syntax); the model's constraints (enum, min/max
of numbers, string lengths and list sizes, patterns) then judge the value the program declared.
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from functools import cache
from typing import Any

import botocore.session
from botocore.model import Shape


@dataclass(frozen=True)
class Binding:
    pulumi_type: str
    service: str  # botocore service name
    operation: str  # the API call the provider makes with these properties
    properties: Mapping[str, str]  # Pulumi property path -> API member path
    # Values the provider reads as "not set" and never sends (Pulumi property -> sentinels).
    unset: Mapping[str, tuple[Any, ...]] = field(default_factory=dict)


BINDINGS: tuple[Binding, ...] = (
    Binding("aws:lambda/function:Function", "lambda", "CreateFunction", {
        "name": "FunctionName", "runtime": "Runtime", "handler": "Handler", "memorySize": "MemorySize",
        "timeout": "Timeout", "architectures": "Architectures", "description": "Description", "role": "Role",
        "kmsKeyArn": "KMSKeyArn", "tracingConfig.mode": "TracingConfig.Mode",
        "loggingConfig.logFormat": "LoggingConfig.LogFormat", "loggingConfig.logGroup": "LoggingConfig.LogGroup",
        "loggingConfig.applicationLogLevel": "LoggingConfig.ApplicationLogLevel",
        "loggingConfig.systemLogLevel": "LoggingConfig.SystemLogLevel",
        "deadLetterConfig.targetArn": "DeadLetterConfig.TargetArn",
    }),
    # -1 is the provider's "no reservation" (it calls DeleteFunctionConcurrency instead).
    Binding("aws:lambda/function:Function", "lambda", "PutFunctionConcurrency", {
        "reservedConcurrentExecutions": "ReservedConcurrentExecutions",
    }, {"reservedConcurrentExecutions": (-1,)}),
    Binding("aws:lambda/eventSourceMapping:EventSourceMapping", "lambda", "CreateEventSourceMapping", {
        "eventSourceArn": "EventSourceArn", "functionName": "FunctionName", "batchSize": "BatchSize",
        "maximumBatchingWindowInSeconds": "MaximumBatchingWindowInSeconds", "startingPosition": "StartingPosition",
        "maximumRetryAttempts": "MaximumRetryAttempts", "maximumRecordAgeInSeconds": "MaximumRecordAgeInSeconds",
        "parallelizationFactor": "ParallelizationFactor", "functionResponseTypes": "FunctionResponseTypes",
        "bisectBatchOnFunctionError": "BisectBatchOnFunctionError",
        "scalingConfig.maximumConcurrency": "ScalingConfig.MaximumConcurrency",
        "destinationConfig.onFailure.destinationArn": "DestinationConfig.OnFailure.Destination",
    }),
    Binding("aws:lambda/permission:Permission", "lambda", "AddPermission", {
        "action": "Action", "principal": "Principal", "sourceArn": "SourceArn", "statementId": "StatementId",
    }),
    Binding("aws:cloudwatch/logGroup:LogGroup", "logs", "CreateLogGroup", {"name": "logGroupName", "kmsKeyId": "kmsKeyId"}),
    Binding("aws:cloudwatch/logGroup:LogGroup", "logs", "PutRetentionPolicy", {"retentionInDays": "retentionInDays"}),
    Binding("aws:cloudwatch/metricAlarm:MetricAlarm", "cloudwatch", "PutMetricAlarm", {
        "name": "AlarmName", "alarmDescription": "AlarmDescription", "comparisonOperator": "ComparisonOperator",
        "evaluationPeriods": "EvaluationPeriods", "datapointsToAlarm": "DatapointsToAlarm", "metricName": "MetricName",
        "namespace": "Namespace", "period": "Period", "statistic": "Statistic", "extendedStatistic": "ExtendedStatistic",
        "threshold": "Threshold", "treatMissingData": "TreatMissingData", "unit": "Unit",
        "alarmActions": "AlarmActions", "okActions": "OKActions",
        "metricQueries[].id": "Metrics[].Id", "metricQueries[].expression": "Metrics[].Expression",
        "metricQueries[].metric.metricName": "Metrics[].MetricStat.Metric.MetricName",
        "metricQueries[].metric.namespace": "Metrics[].MetricStat.Metric.Namespace",
        "metricQueries[].metric.period": "Metrics[].MetricStat.Period",
        "metricQueries[].metric.stat": "Metrics[].MetricStat.Stat",
    }),
    Binding("aws:cloudwatch/dashboard:Dashboard", "cloudwatch", "PutDashboard", {"dashboardName": "DashboardName"}),
    Binding("aws:cloudwatch/eventBus:EventBus", "events", "CreateEventBus", {
        "name": "Name", "description": "Description", "kmsKeyIdentifier": "KmsKeyIdentifier",
    }),
    Binding("aws:cloudwatch/eventRule:EventRule", "events", "PutRule", {
        "name": "Name", "scheduleExpression": "ScheduleExpression", "eventPattern": "EventPattern",
        "state": "State", "description": "Description", "eventBusName": "EventBusName",
    }),
    Binding("aws:cloudwatch/eventTarget:EventTarget", "events", "PutTargets", {
        "rule": "Rule", "eventBusName": "EventBusName", "targetId": "Targets[].Id", "arn": "Targets[].Arn",
        "roleArn": "Targets[].RoleArn", "input": "Targets[].Input",
        "retryPolicy.maximumRetryAttempts": "Targets[].RetryPolicy.MaximumRetryAttempts",
        "retryPolicy.maximumEventAgeInSeconds": "Targets[].RetryPolicy.MaximumEventAgeInSeconds",
        "deadLetterConfig.arn": "Targets[].DeadLetterConfig.Arn",
        "inputTransformer.inputTemplate": "Targets[].InputTransformer.InputTemplate",
    }),
    Binding("aws:cloudwatch/eventArchive:EventArchive", "events", "CreateArchive", {
        "name": "ArchiveName", "retentionDays": "RetentionDays", "eventPattern": "EventPattern", "description": "Description",
    }),
    Binding("aws:dynamodb/table:Table", "dynamodb", "CreateTable", {
        "name": "TableName", "billingMode": "BillingMode", "streamViewType": "StreamSpecification.StreamViewType",
        "globalSecondaryIndexes[].name": "GlobalSecondaryIndexes[].IndexName",
        "globalSecondaryIndexes[].projectionType": "GlobalSecondaryIndexes[].Projection.ProjectionType",
        "attributes[].name": "AttributeDefinitions[].AttributeName", "attributes[].type": "AttributeDefinitions[].AttributeType",
    }),
    Binding("aws:kinesis/stream:Stream", "kinesis", "CreateStream", {
        "name": "StreamName", "shardCount": "ShardCount", "streamModeDetails.streamMode": "StreamModeDetails.StreamMode",
    }),
    Binding("aws:kinesis/stream:Stream", "kinesis", "IncreaseStreamRetentionPeriod", {"retentionPeriod": "RetentionPeriodHours"}),
    Binding("aws:kinesis/stream:Stream", "kinesis", "StartStreamEncryption", {"encryptionType": "EncryptionType", "kmsKeyId": "KeyId"}),
    Binding("aws:sqs/queue:Queue", "sqs", "CreateQueue", {"name": "QueueName"}),
    Binding("aws:sns/topic:Topic", "sns", "CreateTopic", {"name": "Name"}),
    Binding("aws:sns/topicSubscription:TopicSubscription", "sns", "Subscribe", {
        "topic": "TopicArn", "protocol": "Protocol", "endpoint": "Endpoint",
    }),
    Binding("aws:appautoscaling/target:Target", "application-autoscaling", "RegisterScalableTarget", {
        "serviceNamespace": "ServiceNamespace", "scalableDimension": "ScalableDimension", "resourceId": "ResourceId",
        "minCapacity": "MinCapacity", "maxCapacity": "MaxCapacity",
    }),
    Binding("aws:appautoscaling/policy:Policy", "application-autoscaling", "PutScalingPolicy", {
        "name": "PolicyName", "serviceNamespace": "ServiceNamespace", "scalableDimension": "ScalableDimension",
        "resourceId": "ResourceId", "policyType": "PolicyType",
        "targetTrackingScalingPolicyConfiguration.targetValue": "TargetTrackingScalingPolicyConfiguration.TargetValue",
        "targetTrackingScalingPolicyConfiguration.scaleInCooldown": "TargetTrackingScalingPolicyConfiguration.ScaleInCooldown",
        "targetTrackingScalingPolicyConfiguration.scaleOutCooldown": "TargetTrackingScalingPolicyConfiguration.ScaleOutCooldown",
        "targetTrackingScalingPolicyConfiguration.predefinedMetricSpecification.predefinedMetricType": "TargetTrackingScalingPolicyConfiguration.PredefinedMetricSpecification.PredefinedMetricType",
    }),
    Binding("aws:sfn/stateMachine:StateMachine", "stepfunctions", "CreateStateMachine", {
        "name": "name", "roleArn": "roleArn", "type": "type",
        "loggingConfiguration.level": "loggingConfiguration.level",
        "loggingConfiguration.includeExecutionData": "loggingConfiguration.includeExecutionData",
        "encryptionConfiguration.type": "encryptionConfiguration.type",
        "encryptionConfiguration.kmsKeyId": "encryptionConfiguration.kmsKeyId",
        "encryptionConfiguration.kmsDataKeyReusePeriodSeconds": "encryptionConfiguration.kmsDataKeyReusePeriodSeconds",
    }),
    Binding("aws:kms/key:Key", "kms", "CreateKey", {"description": "Description", "policy": "Policy"}),
    Binding("aws:kms/key:Key", "kms", "ScheduleKeyDeletion", {"deletionWindowInDays": "PendingWindowInDays"}),
    Binding("aws:kms/key:Key", "kms", "EnableKeyRotation", {"rotationPeriodInDays": "RotationPeriodInDays"}),
    Binding("aws:kms/replicaKey:ReplicaKey", "kms", "ScheduleKeyDeletion", {"deletionWindowInDays": "PendingWindowInDays"}),
    Binding("aws:kms/alias:Alias", "kms", "CreateAlias", {"name": "AliasName"}),
    Binding("aws:iam/role:Role", "iam", "CreateRole", {
        "name": "RoleName", "path": "Path", "assumeRolePolicy": "AssumeRolePolicyDocument",
        "maxSessionDuration": "MaxSessionDuration", "description": "Description",
    }),
    Binding("aws:iam/rolePolicy:RolePolicy", "iam", "PutRolePolicy", {"name": "PolicyName", "policy": "PolicyDocument"}),
    Binding("aws:iam/policy:Policy", "iam", "CreatePolicy", {"name": "PolicyName", "policy": "PolicyDocument", "description": "Description"}),
    Binding("aws:glue/job:Job", "glue", "CreateJob", {
        "name": "Name", "glueVersion": "GlueVersion", "workerType": "WorkerType", "numberOfWorkers": "NumberOfWorkers",
        "timeout": "Timeout", "maxRetries": "MaxRetries", "description": "Description",
        "executionProperty.maxConcurrentRuns": "ExecutionProperty.MaxConcurrentRuns",
        "securityConfiguration": "SecurityConfiguration", "command.name": "Command.Name",
        "command.pythonVersion": "Command.PythonVersion",
    }),
    Binding("aws:glue/crawler:Crawler", "glue", "CreateCrawler", {
        "name": "Name", "databaseName": "DatabaseName", "tablePrefix": "TablePrefix", "description": "Description",
        "schemaChangePolicy.updateBehavior": "SchemaChangePolicy.UpdateBehavior",
        "schemaChangePolicy.deleteBehavior": "SchemaChangePolicy.DeleteBehavior",
        "recrawlPolicy.recrawlBehavior": "RecrawlPolicy.RecrawlBehavior", "schedule": "Schedule",
    }),
    Binding("aws:glue/catalogDatabase:CatalogDatabase", "glue", "CreateDatabase", {"name": "DatabaseInput.Name"}),
    Binding("aws:glue/catalogTable:CatalogTable", "glue", "CreateTable", {
        "name": "TableInput.Name", "tableType": "TableInput.TableType",
        "storageDescriptor.columns[].name": "TableInput.StorageDescriptor.Columns[].Name",
        "storageDescriptor.columns[].type": "TableInput.StorageDescriptor.Columns[].Type",
        "partitionKeys[].name": "TableInput.PartitionKeys[].Name",
    }),
    Binding("aws:glue/securityConfiguration:SecurityConfiguration", "glue", "CreateSecurityConfiguration", {
        "name": "Name",
        "encryptionConfiguration.s3Encryption.s3EncryptionMode": "EncryptionConfiguration.S3Encryption[].S3EncryptionMode",
        "encryptionConfiguration.cloudwatchEncryption.cloudwatchEncryptionMode": "EncryptionConfiguration.CloudWatchEncryption.CloudWatchEncryptionMode",
        "encryptionConfiguration.jobBookmarksEncryption.jobBookmarksEncryptionMode": "EncryptionConfiguration.JobBookmarksEncryption.JobBookmarksEncryptionMode",
    }),
    Binding("aws:athena/workgroup:Workgroup", "athena", "CreateWorkGroup", {
        "name": "Name", "description": "Description",
        "configuration.enforceWorkgroupConfiguration": "Configuration.EnforceWorkGroupConfiguration",
        "configuration.engineVersion.selectedEngineVersion": "Configuration.EngineVersion.SelectedEngineVersion",
        "configuration.bytesScannedCutoffPerQuery": "Configuration.BytesScannedCutoffPerQuery",
        "configuration.resultConfiguration.encryptionConfiguration.encryptionOption": "Configuration.ResultConfiguration.EncryptionConfiguration.EncryptionOption",
    }),
    Binding("aws:athena/workgroup:Workgroup", "athena", "UpdateWorkGroup", {"state": "State"}),
    Binding("aws:athena/namedQuery:NamedQuery", "athena", "CreateNamedQuery", {
        "name": "Name", "database": "Database", "description": "Description", "query": "QueryString",
    }),
    Binding("aws:backup/vault:Vault", "backup", "CreateBackupVault", {"name": "BackupVaultName"}),
    Binding("aws:backup/vaultNotifications:VaultNotifications", "backup", "PutBackupVaultNotifications", {
        "backupVaultName": "BackupVaultName", "backupVaultEvents": "BackupVaultEvents", "snsTopicArn": "SNSTopicArn",
    }),
    Binding("aws:backup/vaultLockConfiguration:VaultLockConfiguration", "backup", "PutBackupVaultLockConfiguration", {
        "backupVaultName": "BackupVaultName", "minRetentionDays": "MinRetentionDays",
        "maxRetentionDays": "MaxRetentionDays", "changeableForDays": "ChangeableForDays",
    }),
    Binding("aws:backup/framework:Framework", "backup", "CreateFramework", {
        "name": "FrameworkName", "description": "FrameworkDescription",
        "controls[].name": "FrameworkControls[].ControlName",
        "controls[].inputParameters[].name": "FrameworkControls[].ControlInputParameters[].ParameterName",
        "controls[].inputParameters[].value": "FrameworkControls[].ControlInputParameters[].ParameterValue",
        "controls[].scope.complianceResourceTypes": "FrameworkControls[].ControlScope.ComplianceResourceTypes",
    }),
    Binding("aws:backup/reportPlan:ReportPlan", "backup", "CreateReportPlan", {
        "name": "ReportPlanName", "description": "ReportPlanDescription",
        "reportSetting.reportTemplate": "ReportSetting.ReportTemplate",
        "reportSetting.frameworkArns": "ReportSetting.FrameworkArns",
        "reportSetting.numberOfFrameworks": "ReportSetting.NumberOfFrameworks",
        "reportDeliveryChannel.formats": "ReportDeliveryChannel.Formats",
        "reportDeliveryChannel.s3BucketName": "ReportDeliveryChannel.S3BucketName",
        "reportDeliveryChannel.s3KeyPrefix": "ReportDeliveryChannel.S3KeyPrefix",
    }),
    Binding("aws:backup/plan:Plan", "backup", "CreateBackupPlan", {
        "name": "BackupPlan.BackupPlanName", "rules[].ruleName": "BackupPlan.Rules[].RuleName",
        "rules[].schedule": "BackupPlan.Rules[].ScheduleExpression",
        "rules[].startWindow": "BackupPlan.Rules[].StartWindowMinutes",
        "rules[].completionWindow": "BackupPlan.Rules[].CompletionWindowMinutes",
        "rules[].lifecycle.coldStorageAfter": "BackupPlan.Rules[].Lifecycle.MoveToColdStorageAfterDays",
        "rules[].lifecycle.deleteAfter": "BackupPlan.Rules[].Lifecycle.DeleteAfterDays",
        "rules[].copyActions[].destinationVaultArn": "BackupPlan.Rules[].CopyActions[].DestinationBackupVaultArn",
    }),
    Binding("aws:backup/selection:Selection", "backup", "CreateBackupSelection", {
        "name": "BackupSelection.SelectionName", "iamRoleArn": "BackupSelection.IamRoleArn",
        "selectionTags[].type": "BackupSelection.ListOfTags[].ConditionType",
    }),
    Binding("aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", "s3", "PutBucketLifecycleConfiguration", {
        "rules[].id": "LifecycleConfiguration.Rules[].ID", "rules[].status": "LifecycleConfiguration.Rules[].Status",
        "rules[].transitions[].days": "LifecycleConfiguration.Rules[].Transitions[].Days",
        "rules[].transitions[].storageClass": "LifecycleConfiguration.Rules[].Transitions[].StorageClass",
        "rules[].expiration.days": "LifecycleConfiguration.Rules[].Expiration.Days",
        "rules[].noncurrentVersionExpiration.noncurrentDays": "LifecycleConfiguration.Rules[].NoncurrentVersionExpiration.NoncurrentDays",
    }),
    Binding("aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration", "s3", "PutBucketEncryption", {
        "rules[].applyServerSideEncryptionByDefault.sseAlgorithm": "ServerSideEncryptionConfiguration.Rules[].ApplyServerSideEncryptionByDefault.SSEAlgorithm",
    }),
    Binding("aws:s3/bucketVersioning:BucketVersioning", "s3", "PutBucketVersioning", {
        "versioningConfiguration.status": "VersioningConfiguration.Status",
    }),
    Binding("aws:s3/bucketOwnershipControls:BucketOwnershipControls", "s3", "PutBucketOwnershipControls", {
        "rule.objectOwnership": "OwnershipControls.Rules[].ObjectOwnership",
    }),
    Binding("aws:s3/bucketReplicationConfig:BucketReplicationConfig", "s3", "PutBucketReplication", {
        "role": "ReplicationConfiguration.Role", "rules[].status": "ReplicationConfiguration.Rules[].Status",
        "rules[].destination.storageClass": "ReplicationConfiguration.Rules[].Destination.StorageClass",
    }),
    Binding("aws:ssm/parameter:Parameter", "ssm", "PutParameter", {
        "name": "Name", "type": "Type", "tier": "Tier", "description": "Description", "dataType": "DataType",
    }),
    Binding("aws:sagemaker/endpointConfiguration:EndpointConfiguration", "sagemaker", "CreateEndpointConfig", {
        "name": "EndpointConfigName",
        "productionVariants[].variantName": "ProductionVariants[].VariantName",
        "productionVariants[].instanceType": "ProductionVariants[].InstanceType",
        "productionVariants[].initialInstanceCount": "ProductionVariants[].InitialInstanceCount",
        "productionVariants[].serverlessConfig.memorySizeInMb": "ProductionVariants[].ServerlessConfig.MemorySizeInMB",
        "productionVariants[].serverlessConfig.maxConcurrency": "ProductionVariants[].ServerlessConfig.MaxConcurrency",
    }),
    Binding("aws:sagemaker/model:Model", "sagemaker", "CreateModel", {"name": "ModelName", "executionRoleArn": "ExecutionRoleArn"}),
    Binding("aws:sagemaker/endpoint:Endpoint", "sagemaker", "CreateEndpoint", {"name": "EndpointName"}),
    Binding("aws:apigatewayv2/api:Api", "apigatewayv2", "CreateApi", {"name": "Name", "protocolType": "ProtocolType"}),
    Binding("aws:apigatewayv2/integration:Integration", "apigatewayv2", "CreateIntegration", {
        "integrationType": "IntegrationType", "payloadFormatVersion": "PayloadFormatVersion",
        "timeoutMilliseconds": "TimeoutInMillis",
    }),
    Binding("aws:apigatewayv2/stage:Stage", "apigatewayv2", "CreateStage", {
        "name": "StageName",
        "defaultRouteSettings.throttlingBurstLimit": "DefaultRouteSettings.ThrottlingBurstLimit",
        "defaultRouteSettings.throttlingRateLimit": "DefaultRouteSettings.ThrottlingRateLimit",
    }),
    Binding("aws:ec2/launchTemplate:LaunchTemplate", "ec2", "CreateLaunchTemplate", {
        "blockDeviceMappings[].ebs.volumeType": "LaunchTemplateData.BlockDeviceMappings[].Ebs.VolumeType",
        "blockDeviceMappings[].ebs.volumeSize": "LaunchTemplateData.BlockDeviceMappings[].Ebs.VolumeSize",
        "metadataOptions.httpTokens": "LaunchTemplateData.MetadataOptions.HttpTokens",
        "metadataOptions.httpPutResponseHopLimit": "LaunchTemplateData.MetadataOptions.HttpPutResponseHopLimit",
    }),
    Binding("aws:ec2/vpc:Vpc", "ec2", "CreateVpc", {"cidrBlock": "CidrBlock"}),
    Binding("aws:ec2/securityGroup:SecurityGroup", "ec2", "CreateSecurityGroup", {
        "name": "GroupName", "description": "Description", "vpcId": "VpcId",
    }),
    Binding("aws:ec2/securityGroup:SecurityGroup", "ec2", "AuthorizeSecurityGroupIngress", {
        "ingress[].protocol": "IpPermissions[].IpProtocol", "ingress[].fromPort": "IpPermissions[].FromPort",
        "ingress[].toPort": "IpPermissions[].ToPort", "ingress[].cidrBlocks[]": "IpPermissions[].IpRanges[].CidrIp",
    }),
    Binding("aws:rds/subnetGroup:SubnetGroup", "rds", "CreateDBSubnetGroup", {
        "name": "DBSubnetGroupName", "description": "DBSubnetGroupDescription", "subnetIds": "SubnetIds",
    }),
    Binding("aws:rds/instance:Instance", "rds", "CreateDBInstance", {
        "identifier": "DBInstanceIdentifier", "instanceClass": "DBInstanceClass", "engine": "Engine",
        "backupRetentionPeriod": "BackupRetentionPeriod", "storageType": "StorageType",
    }),
    Binding("aws:codebuild/project:Project", "codebuild", "CreateProject", {
        "name": "name", "description": "description", "serviceRole": "serviceRole",
        "buildTimeout": "timeoutInMinutes", "queuedTimeout": "queuedTimeoutInMinutes",
        "environment.type": "environment.type", "environment.computeType": "environment.computeType",
        "environment.image": "environment.image", "source.type": "source.type", "artifacts.type": "artifacts.type",
    }),
    Binding("aws:ec2/flowLog:FlowLog", "ec2", "CreateFlowLogs", {
        "trafficType": "TrafficType", "logDestinationType": "LogDestinationType",
        "maxAggregationInterval": "MaxAggregationInterval",
    }),
    Binding("aws:ecr/repository:Repository", "ecr", "CreateRepository", {
        "name": "repositoryName", "imageTagMutability": "imageTagMutability",
        "encryptionConfigurations[].encryptionType": "encryptionConfiguration.encryptionType",
    }),
    Binding("aws:ecr/lifecyclePolicy:LifecyclePolicy", "ecr", "PutLifecyclePolicy", {
        "repository": "repositoryName", "policy": "lifecyclePolicyText",
    }),
    Binding("aws:eks/accessEntry:AccessEntry", "eks", "CreateAccessEntry", {
        "principalArn": "principalArn", "type": "type", "kubernetesGroups": "kubernetesGroups",
    }),
    Binding("aws:eks/accessPolicyAssociation:AccessPolicyAssociation", "eks", "AssociateAccessPolicy", {
        "principalArn": "principalArn", "policyArn": "policyArn", "accessScope.type": "accessScope.type",
        "accessScope.namespaces": "accessScope.namespaces",
    }),
    Binding("aws:eks/addon:Addon", "eks", "CreateAddon", {
        "addonName": "addonName", "addonVersion": "addonVersion", "resolveConflictsOnCreate": "resolveConflicts",
    }),
    Binding("aws:scheduler/schedule:Schedule", "scheduler", "CreateSchedule", {
        "name": "Name", "description": "Description", "scheduleExpression": "ScheduleExpression",
        "scheduleExpressionTimezone": "ScheduleExpressionTimezone", "state": "State", "kmsKeyArn": "KmsKeyArn",
        "flexibleTimeWindow.mode": "FlexibleTimeWindow.Mode",
        "flexibleTimeWindow.maximumWindowInMinutes": "FlexibleTimeWindow.MaximumWindowInMinutes",
        "target.arn": "Target.Arn", "target.roleArn": "Target.RoleArn",
        "target.retryPolicy.maximumRetryAttempts": "Target.RetryPolicy.MaximumRetryAttempts",
        "target.retryPolicy.maximumEventAgeInSeconds": "Target.RetryPolicy.MaximumEventAgeInSeconds",
    }),
    Binding("aws:secretsmanager/secret:Secret", "secretsmanager", "CreateSecret", {
        "name": "Name", "description": "Description", "kmsKeyId": "KmsKeyId",
        "replicas[].region": "AddReplicaRegions[].Region", "replicas[].kmsKeyId": "AddReplicaRegions[].KmsKeyId",
    }),
    # The secret string is write-only (never in the plan): only the secret it goes to is checked.
    Binding("aws:secretsmanager/secretVersion:SecretVersion", "secretsmanager", "PutSecretValue", {
        "secretId": "SecretId",  # pragma: allowlist secret
    }),
    Binding("aws:vpc/securityGroupIngressRule:SecurityGroupIngressRule", "ec2", "AuthorizeSecurityGroupIngress", {
        "ipProtocol": "IpPermissions[].IpProtocol", "fromPort": "IpPermissions[].FromPort",
        "toPort": "IpPermissions[].ToPort", "cidrIpv4": "IpPermissions[].IpRanges[].CidrIp",
        "description": "IpPermissions[].IpRanges[].Description",
    }),
    Binding("aws:cloudwatch/eventApiDestination:EventApiDestination", "events", "CreateApiDestination", {
        "name": "Name", "description": "Description", "connectionArn": "ConnectionArn",
        "invocationEndpoint": "InvocationEndpoint", "httpMethod": "HttpMethod",
        "invocationRateLimitPerSecond": "InvocationRateLimitPerSecond",
    }),
    Binding("aws:cloudwatch/eventConnection:EventConnection", "events", "CreateConnection", {
        "name": "Name", "description": "Description", "authorizationType": "AuthorizationType",
        "kmsKeyIdentifier": "KmsKeyIdentifier",
    }),
    Binding("aws:cloudwatch/eventEndpoint:EventEndpoint", "events", "CreateEndpoint", {
        "name": "Name", "description": "Description", "roleArn": "RoleArn",
        "eventBuses[].eventBusArn": "EventBuses[].EventBusArn",
        "replicationConfig.state": "ReplicationConfig.State",
        "routingConfig.failoverConfig.primary.healthCheck": "RoutingConfig.FailoverConfig.Primary.HealthCheck",
        "routingConfig.failoverConfig.secondary.route": "RoutingConfig.FailoverConfig.Secondary.Route",
    }),
    Binding("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "firehose", "CreateDeliveryStream", {
        "name": "DeliveryStreamName",
        "serverSideEncryption.keyType": "DeliveryStreamEncryptionConfigurationInput.KeyType",
        "extendedS3Configuration.bucketArn": "ExtendedS3DestinationConfiguration.BucketARN",
        "extendedS3Configuration.roleArn": "ExtendedS3DestinationConfiguration.RoleARN",
        "extendedS3Configuration.prefix": "ExtendedS3DestinationConfiguration.Prefix",
        "extendedS3Configuration.errorOutputPrefix": "ExtendedS3DestinationConfiguration.ErrorOutputPrefix",
        "extendedS3Configuration.bufferingSize": "ExtendedS3DestinationConfiguration.BufferingHints.SizeInMBs",
        "extendedS3Configuration.bufferingInterval": "ExtendedS3DestinationConfiguration.BufferingHints.IntervalInSeconds",
        "extendedS3Configuration.compressionFormat": "ExtendedS3DestinationConfiguration.CompressionFormat",
    }),
    Binding("aws:rds/parameterGroup:ParameterGroup", "rds", "CreateDBParameterGroup", {
        "name": "DBParameterGroupName", "family": "DBParameterGroupFamily", "description": "Description",
    }),
    Binding("aws:route53/healthCheck:HealthCheck", "route53", "CreateHealthCheck", {
        "type": "HealthCheckConfig.Type", "fqdn": "HealthCheckConfig.FullyQualifiedDomainName",
        "port": "HealthCheckConfig.Port", "resourcePath": "HealthCheckConfig.ResourcePath",
        "requestInterval": "HealthCheckConfig.RequestInterval", "failureThreshold": "HealthCheckConfig.FailureThreshold",
        "regions": "HealthCheckConfig.Regions",
    }),
)  # fmt: skip

# Types the program declares whose inputs carry no value the API models constrain (links, ids, JSON
# documents checked elsewhere) or that are not AWS API resources.
UNCONSTRAINED_TYPES = frozenset({
    "aws:iam/rolePolicyAttachment:RolePolicyAttachment", "aws:iam/openIdConnectProvider:OpenIdConnectProvider",
    "aws:s3/bucket:Bucket", "aws:s3/bucketPolicy:BucketPolicy", "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock",
    "aws:s3/bucketNotification:BucketNotification", "aws:s3/bucketObjectv2:BucketObjectv2",
    "aws:s3/bucketLogging:BucketLogging", "aws:sns/topicPolicy:TopicPolicy", "aws:sqs/queuePolicy:QueuePolicy",
    "aws:apigatewayv2/route:Route", "aws:ec2/subnet:Subnet", "aws:ec2/internetGateway:InternetGateway",
    "aws:ec2/natGateway:NatGateway", "aws:ec2/eip:Eip", "aws:ec2/routeTable:RouteTable",
    "aws:ec2/routeTableAssociation:RouteTableAssociation", "aws:backup/restoreTestingPlan:RestoreTestingPlan",
    "aws:backup/restoreTestingSelection:RestoreTestingSelection",
    # Only removes every rule of the VPC's default group (no inputs besides the VPC id).
    "aws:ec2/defaultSecurityGroup:DefaultSecurityGroup",
    # A resource policy document (judged by the IAM checks), no modelled scalar inputs.
    "aws:cloudwatch/eventBusPolicy:EventBusPolicy",
})  # fmt: skip


@cache
def _operation_input(service: str, operation: str) -> Shape:
    return botocore.session.get_session().get_service_model(service).operation_model(operation).input_shape


def api_shape(service: str, operation: str, path: str) -> Shape:
    """The model shape at `path` of an operation's input; KeyError naming the step that does not exist."""
    shape = _operation_input(service, operation)
    for step in path.split("."):
        name, is_list = step.removesuffix("[]"), step.endswith("[]")
        if name not in shape.members:
            raise KeyError(
                f"{service}.{operation} has no member {name!r} (in {path!r}); it has {sorted(shape.members)}"
            )
        shape = shape.members[name]
        if is_list:
            shape = shape.member
    return shape


def values_at(inputs: Any, path: str, prefix: str = "") -> Iterator[tuple[str, Any]]:
    """(concrete path, value) for each value at a property path; `[]` steps over list items."""
    if not path:
        yield prefix, inputs
        return
    step, _, rest = path.partition(".")
    name, is_list = step.removesuffix("[]"), step.endswith("[]")
    if not isinstance(inputs, Mapping) or inputs.get(name) is None:
        return
    value = inputs[name]
    here = f"{prefix}.{name}" if prefix else name
    if is_list:
        for index, item in enumerate(value if isinstance(value, list) else [value]):
            yield from values_at(item, rest, f"{here}[{index}]")
    else:
        yield from values_at(value, rest, here)


@cache
def _pattern(pattern: str) -> re.Pattern[str] | None:
    try:
        return re.compile(pattern)
    except re.error:
        return None  # a Java-only construct (\p{...}): the model's other constraints still apply


def violations(shape: Shape, value: Any) -> list[str]:
    """What the model does not accept about `value` (empty when it accepts it)."""
    meta, kind = shape.metadata, shape.type_name
    if kind == "list":
        items = value if isinstance(value, list) else [value]
        problems = [f"{len(items)} items, the model allows {meta.get('min', 0)}..{meta.get('max', '')}"
                    for _ in [0] if len(items) < meta.get("min", 0) or ("max" in meta and len(items) > meta["max"])]  # fmt: skip
        return problems + [p for item in items for p in violations(shape.member, item)]
    if kind == "structure" or kind == "map":
        return []
    if kind in ("integer", "long", "double", "float"):
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return [f"{value!r} is not a number"]
        if kind in ("integer", "long") and float(value) != int(value):
            return [f"{value!r} is not a whole number"]
        low, high = meta.get("min"), meta.get("max")
        if (low is not None and value < low) or (high is not None and value > high):
            return [f"{value!r} is outside {low}..{high}"]
        return []
    if kind == "boolean":
        return [] if isinstance(value, bool) else [f"{value!r} is not a boolean"]
    if kind == "string":
        text = value if isinstance(value, str) else str(value)
        problems = []
        if shape.enum and text not in shape.enum:
            problems.append(f"{text!r} is not one of {shape.enum}")
        if len(text) < meta.get("min", 0) or ("max" in meta and len(text) > meta["max"]):
            problems.append(f"length {len(text)} is outside {meta.get('min', 0)}..{meta.get('max', '')}")
        pattern = _pattern(meta["pattern"]) if "pattern" in meta else None
        if pattern is not None and not pattern.fullmatch(text) and not pattern.match(text):
            problems.append(f"{text!r} does not match the pattern {meta['pattern']}")
        return problems
    return []


def check_resource(binding: Binding, name: str, inputs: Mapping[str, Any]) -> list[str]:
    failures = []
    for prop, member in binding.properties.items():
        shape = api_shape(binding.service, binding.operation, member)
        for where, value in values_at(inputs, prop):
            if value in binding.unset.get(prop, ()):
                continue
            if isinstance(value, (dict, list)) and shape.type_name == "string":
                continue  # JSON documents (policies, patterns) travel as strings after serialisation
            for problem in violations(shape, value):
                failures.append(
                    f"{binding.pulumi_type} {name}: {where} -> {binding.service}.{binding.operation} {member}: {problem}"
                )
    return failures
