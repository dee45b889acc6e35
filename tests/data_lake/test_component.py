"""The DataLake component under the recording mocks: what reaches each resource, per stack."""

from __future__ import annotations

import ast
import hashlib
import json
from pathlib import Path

import pytest

from components.config import ConfigError, parse_stack_config
from components.data_lake import scripts
from components.data_lake.queries import named_queries
from glue.etl.tables import MONTHLY_TABLES, PROCESSED_TABLES

ACCOUNT = "123456789012"
DEV = "platform-dev-datalake"
PROD = "platform-prod-datalake"
REGION_OF = {DEV: "eu-west-1", PROD: "us-east-1"}


def bucket(prefix: str, purpose: str) -> str:
    """Bucket names are global: they end in the account id and the bucket's region."""
    return f"{prefix}-{purpose}-{ACCOUNT}-{REGION_OF[prefix]}"


BUCKET_PURPOSES = ("raw", "processed", "athena-results")


def key_arn(plan) -> str:
    return plan.one("aws:kms/key:Key", "data-lake-data-key-key").outputs["arn"]


def policy(resource) -> dict:
    return json.loads(resource.inputs["policy"])


def statements(resource) -> dict[str, dict]:
    return {s.get("Sid", ""): s for s in policy(resource)["Statement"]}


def as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def entry_script_arguments(path: Path) -> list[str]:
    """The names the entry script asks getResolvedOptions for (its ARGUMENTS tuple)."""
    tree = ast.parse(path.read_text())
    for node in tree.body:
        if isinstance(node, ast.Assign) and any(getattr(t, "id", None) == "ARGUMENTS" for t in node.targets):
            return list(ast.literal_eval(node.value))
    raise AssertionError(f"{path} has no ARGUMENTS")


# -- buckets ----------------------------------------------------------------------------------


@pytest.mark.parametrize("purpose", BUCKET_PURPOSES)
def test_every_bucket_is_versioned_kms_encrypted_private_and_tls_only(dev_plan, purpose):
    name = bucket(DEV, purpose)
    prefix = f"data-lake-{purpose}"
    assert dev_plan.one("aws:s3/bucket:Bucket", f"{prefix}-bucket").inputs["bucket"] == name
    assert dev_plan.one("aws:s3/bucketVersioning:BucketVersioning", f"{prefix}-versioning").inputs[
        "versioningConfiguration"
    ] == {"status": "Enabled"}
    encryption = dev_plan.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        f"{prefix}-encryption",
    ).inputs["rules"]
    assert encryption == [
        {
            "applyServerSideEncryptionByDefault": {"sseAlgorithm": "aws:kms", "kmsMasterKeyId": key_arn(dev_plan)},
            "bucketKeyEnabled": True,
        }
    ]
    block = dev_plan.one("aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", f"{prefix}-public-access-block")
    assert all(
        block.inputs[k] is True
        for k in ("blockPublicAcls", "blockPublicPolicy", "ignorePublicAcls", "restrictPublicBuckets")
    )
    ownership = dev_plan.one("aws:s3/bucketOwnershipControls:BucketOwnershipControls", f"{prefix}-ownership")
    assert ownership.inputs["rule"] == {"objectOwnership": "BucketOwnerEnforced"}
    deny = statements(dev_plan.one("aws:s3/bucketPolicy:BucketPolicy", f"{prefix}-policy"))["DenyInsecureTransport"]
    assert deny["Effect"] == "Deny" and deny["Action"] == "s3:*"
    assert deny["Resource"] == [f"arn:aws:s3:::{name}", f"arn:aws:s3:::{name}/*"]
    assert deny["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}


def lifecycle(plan, purpose) -> dict[str, dict]:
    resource = plan.one(
        "aws:s3/bucketLifecycleConfiguration:BucketLifecycleConfiguration", f"data-lake-{purpose}-lifecycle"
    )
    return {rule["id"]: rule for rule in resource.inputs["rules"]}


# Storage classes Glue reads without a restore (Flexible Retrieval and Deep Archive need one).
GLUE_READABLE_CLASSES = {"STANDARD", "STANDARD_IA", "INTELLIGENT_TIERING", "ONEZONE_IA", "GLACIER_IR"}


def test_raw_stays_readable_by_glue_as_it_ages(prod_plan):
    rules = lifecycle(prod_plan, "raw")
    tiering = rules["raw-storage-tiering"]
    assert tiering["filter"] == {"prefix": "raw/"} and tiering["status"] == "Enabled"
    assert [(t["days"], t["storageClass"]) for t in tiering["transitions"]] == [(30, "STANDARD_IA"), (90, "GLACIER_IR")]
    every_class = {t["storageClass"] for rule in rules.values() for t in rule.get("transitions", [])}
    assert every_class <= GLUE_READABLE_CLASSES
    housekeeping = rules["expire-noncurrent-versions"]
    assert housekeeping["noncurrentVersionExpiration"] == {"noncurrentDays": 90}
    assert housekeeping["abortIncompleteMultipartUpload"] == {"daysAfterInitiation": 7}


def test_jobs_read_raw_incrementally_so_old_raw_objects_are_not_reread(prod_plan):
    """The sales job bookmarks its transactions source (only new objects), and the bookmarks work."""
    arguments = prod_plan.one("aws:glue/job:Job", "data-lake-sales-aggregation").inputs["defaultArguments"]
    assert arguments["--job-bookmark-option"] == "job-bookmark-enable"
    source = scripts.SALES_AGGREGATION.path.read_text()
    assert 'BOOKMARK = "raw_transactions"' in source and "bookmark=BOOKMARK" in source


def test_results_temp_and_spark_logs_expire(dev_plan, prod_plan):
    assert lifecycle(prod_plan, "athena-results")["expire-query-results"]["expiration"] == {"days": 30}
    assert lifecycle(dev_plan, "athena-results")["expire-query-results"]["expiration"] == {"days": 7}
    processed = lifecycle(dev_plan, "processed")
    assert (processed["expire-glue-temp"]["filter"], processed["expire-glue-temp"]["expiration"]) == (
        {"prefix": "temp/"},
        {"days": 7},
    )
    assert (processed["expire-spark-logs"]["filter"], processed["expire-spark-logs"]["expiration"]) == (
        {"prefix": "spark-logs/"},
        {"days": 30},
    )
    assert (processed["expire-run-summaries"]["filter"], processed["expire-run-summaries"]["expiration"]) == (
        {"prefix": "runs/"},
        {"days": 7},
    )


def test_prod_logs_bucket_access_and_protects_stateful_resources(dev_plan, prod_plan):
    logging = {r.name: r.inputs for r in prod_plan.of_type("aws:s3/bucketLogging:BucketLogging")}
    for purpose in BUCKET_PURPOSES:
        assert logging[f"data-lake-{purpose}-access-logging"] == {
            "bucket": bucket(PROD, purpose),
            "targetBucket": f"{bucket(PROD, 'access-logs')}",
            "targetPrefix": f"{purpose}/",
        }
    log_policy = statements(prod_plan.one("aws:s3/bucketPolicy:BucketPolicy", "data-lake-access-logs-policy"))
    delivery = log_policy["S3ServerAccessLogDelivery"]
    assert delivery["Principal"] == {"Service": "logging.s3.amazonaws.com"}
    assert delivery["Resource"] == f"arn:aws:s3:::{bucket(PROD, 'access-logs')}/*"
    assert [s["Effect"] for s in log_policy.values() if s.get("Condition", {}).get("Bool")] == ["Deny"]
    # S3 server access logging cannot deliver into an SSE-KMS bucket: the log bucket is SSE-S3.
    encryption = prod_plan.one(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration",
        "data-lake-access-logs-encryption",
    ).inputs["rules"]
    assert [r["applyServerSideEncryptionByDefault"] for r in encryption] == [{"sseAlgorithm": "AES256"}]
    block = prod_plan.one(
        "aws:s3/bucketPublicAccessBlock:BucketPublicAccessBlock", "data-lake-access-logs-public-access-block"
    )
    assert block.inputs["restrictPublicBuckets"] is True
    assert lifecycle(prod_plan, "access-logs")["expire-access-logs"]["expiration"] == {"days": 365}
    key_policy = statements(prod_plan.one("aws:kms/key:Key", "data-lake-data-key-key"))
    assert "AllowS3ServerAccessLogDelivery" not in key_policy
    dev_logging = [r for r in dev_plan.of_type("aws:s3/bucketLogging:BucketLogging") if r.name.startswith("data-lake")]
    assert len(dev_logging) == len(BUCKET_PURPOSES)

    stateful = [
        ("aws:s3/bucket:Bucket", "data-lake-raw-bucket"),
        ("aws:s3/bucket:Bucket", "data-lake-processed-bucket"),
        ("aws:s3/bucket:Bucket", "data-lake-athena-results-bucket"),
        ("aws:kms/key:Key", "data-lake-data-key-key"),
        ("aws:glue/catalogDatabase:CatalogDatabase", "data-lake-database"),
        ("aws:sqs/queue:Queue", "data-lake-ingestion-trigger-dlq"),
    ]
    assert all(prod_plan.one(t, n).protect for t, n in stateful)
    assert not any(dev_plan.one(t, n).protect for t, n in stateful)
    assert prod_plan.one("aws:s3/bucket:Bucket", "data-lake-raw-bucket").inputs["forceDestroy"] is False


def test_children_use_the_primary_region_provider(prod_plan):
    component = prod_plan.one("platform:index:DataLake")
    custom = [r for r in prod_plan.descendants(component) if r.custom]
    assert custom and {prod_plan.provider_inputs(r).get("region") for r in custom} == {"us-east-1"}


# -- Glue -------------------------------------------------------------------------------------


def test_glue_role_is_limited_to_the_lake_prefixes_database_and_logs(dev_plan):
    role = dev_plan.one("aws:iam/role:Role", "data-lake-glue-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    assert trust["Principal"] == {"Service": "glue.amazonaws.com"}
    # Glue documents no aws:SourceAccount for AssumeRole (tests/least_privilege/conditions.py).
    assert "Condition" not in trust
    granted = statements(dev_plan.one("aws:iam/rolePolicy:RolePolicy", "data-lake-glue-policy"))
    raw, processed = f"arn:aws:s3:::{bucket(DEV, 'raw')}", f"arn:aws:s3:::{bucket(DEV, 'processed')}"
    assert granted["ReadRawFeeds"]["Resource"] == f"{raw}/raw/*"
    assert granted["ReadGlueScripts"]["Resource"] == f"{processed}/glue-scripts/*"
    assert as_list(granted["WriteProcessedZones"]["Resource"]) == [
        f"{processed}/processed/*",
        f"{processed}/rejected/*",
        f"{processed}/runs/*",
        f"{processed}/temp/*",
        f"{processed}/spark-logs/*",
    ]
    database = f"arn:aws:glue:eu-west-1:{ACCOUNT}:database/{DEV.replace('-', '_')}_analytics"
    table = f"arn:aws:glue:eu-west-1:{ACCOUNT}:table/{DEV.replace('-', '_')}_analytics"
    catalog = f"arn:aws:glue:eu-west-1:{ACCOUNT}:catalog"
    assert granted["ReadCatalog"]["Resource"] == [catalog, database, f"{table}/*"]
    assert granted["CrawlRawTables"]["Resource"] == [catalog, database, f"{table}/raw_*"]
    assert granted["RegisterProcessedPartitions"]["Resource"] == [
        catalog,
        database,
        f"{table}/customers",
        f"{table}/rejected_rows",
    ]
    assert granted["UseDataKey"]["Resource"] == key_arn(dev_plan)
    # Job bookmarks are CSE-KMS encrypted: saving one needs kms:Encrypt.
    assert set(granted["UseDataKey"]["Action"]) == {"kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey"}
    job_groups = [
        f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws-glue/jobs/{DEV}-etl/output:*",
        f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws-glue/jobs/{DEV}-etl/error:*",
    ]
    crawler_group = f"arn:aws:logs:eu-west-1:{ACCOUNT}:log-group:/aws-glue/crawlers-role/{DEV}-glue-{DEV}-glue:*"
    assert granted["WriteJobLogs"]["Resource"] == job_groups
    assert granted["WriteCrawlerLogs"]["Resource"] == crawler_group
    assert granted["EncryptGlueLogs"] == {
        "Sid": "EncryptGlueLogs",
        "Effect": "Allow",
        "Action": "logs:AssociateKmsKey",
        "Resource": [*job_groups, crawler_group],
    }
    listings = [
        s
        for s in policy(dev_plan.one("aws:iam/rolePolicy:RolePolicy", "data-lake-glue-policy"))["Statement"]
        if s["Action"] == "s3:ListBucket"
    ]
    assert [(s["Resource"], s["Condition"]["StringLike"]["s3:prefix"]) for s in listings] == [
        (raw, ["raw", "raw/", "raw/*"]),
        (
            processed,
            sorted(
                [
                    "processed",
                    "processed/",
                    "processed/*",
                    "rejected",
                    "rejected/",
                    "rejected/*",
                    "runs",
                    "runs/",
                    "runs/*",
                    "temp",
                    "temp/",
                    "temp/*",
                    "spark-logs",
                    "spark-logs/",
                    "spark-logs/*",
                ]
            ),
        ),
    ]
    unscoped = [s["Sid"] for s in granted.values() if "*" in as_list(s["Resource"])]
    assert unscoped == ["JobMetrics"]
    assert granted["JobMetrics"]["Condition"] == {"StringEquals": {"cloudwatch:namespace": "Glue"}}


def test_crawlers_follow_the_article_schema_change_policy(dev_plan):
    for entity in ("customers", "transactions", "products"):
        crawler = dev_plan.one("aws:glue/crawler:Crawler", f"data-lake-{entity}-crawler").inputs
        assert crawler["name"] == f"{DEV}-{entity}-crawler"
        assert crawler["s3Targets"] == [{"path": f"s3://{bucket(DEV, 'raw')}/raw/{entity}/"}]
        assert crawler["schemaChangePolicy"] == {"updateBehavior": "UPDATE_IN_DATABASE", "deleteBehavior": "LOG"}
        assert json.loads(crawler["configuration"]) == {
            "Version": 1.0,
            "CrawlerOutput": {"Partitions": {"AddOrUpdateBehavior": "InheritFromTable"}},
        }
        assert crawler["tablePrefix"] == "raw_"
        assert crawler["role"] == f"arn:aws:iam::{ACCOUNT}:role/{DEV}-glue"
        assert crawler["securityConfiguration"] == f"{DEV}-glue"


def test_processed_crawler_registers_partitions_without_touching_schemas(dev_plan):
    crawler = dev_plan.one("aws:glue/crawler:Crawler", "data-lake-processed-crawler").inputs
    assert crawler["name"] == f"{DEV}-processed-crawler"
    assert crawler["catalogTargets"] == [
        {"databaseName": "platform_dev_datalake_analytics", "tables": ["customers", "rejected_rows"]}
    ]
    assert crawler["schemaChangePolicy"] == {"updateBehavior": "LOG", "deleteBehavior": "LOG"}
    assert "s3Targets" not in crawler


def test_security_configuration_encrypts_with_the_lake_key(dev_plan):
    config = dev_plan.one("aws:glue/securityConfiguration:SecurityConfiguration").inputs["encryptionConfiguration"]
    assert config["s3Encryption"] == {"s3EncryptionMode": "SSE-KMS", "kmsKeyArn": key_arn(dev_plan)}
    assert config["jobBookmarksEncryption"] == {"jobBookmarksEncryptionMode": "CSE-KMS", "kmsKeyArn": key_arn(dev_plan)}


def test_scripts_are_uploaded_with_a_content_hash(dev_plan):
    for script in (scripts.CUSTOMER_TRANSFORM, scripts.SALES_AGGREGATION):
        uploaded = dev_plan.one("aws:s3/bucketObjectv2:BucketObjectv2", f"data-lake-script-{script.job}").inputs
        assert (uploaded["bucket"], uploaded["key"]) == (bucket(DEV, "processed"), f"glue-scripts/{script.path.name}")
        assert uploaded["source"].path == str(script.path)
        digest = hashlib.sha256(f"glue-scripts/{script.path.name}".encode() + b"\0" + script.path.read_bytes() + b"\0")
        assert uploaded["sourceHash"] == digest.hexdigest()
        assert (uploaded["serverSideEncryption"], uploaded["kmsKeyId"]) == ("aws:kms", key_arn(dev_plan))
    package = dev_plan.one("aws:s3/bucketObjectv2:BucketObjectv2", "data-lake-etl-package").inputs
    assert package["key"] == "glue-scripts/glue_etl.zip"
    members = sorted(package["source"].assets)
    assert members == sorted(
        ["glue/__init__.py", *(f"glue/etl/{p.name}" for p in (scripts.GLUE_DIR / "etl").glob("*.py"))]
    )
    assert "glue/etl/sales.py" in members and "glue/etl/customers.py" in members


def test_content_hash_changes_with_the_code(tmp_path):
    module = tmp_path / "m.py"
    module.write_text("a = 1\n")
    before = scripts.content_hash({"glue/etl/m.py": module})
    module.write_text("a = 2\n")
    assert scripts.content_hash({"glue/etl/m.py": module}) != before


@pytest.mark.parametrize(
    ("script", "settings"),
    [(scripts.CUSTOMER_TRANSFORM, ("G.1X", 2, 60, 2)), (scripts.SALES_AGGREGATION, ("G.2X", 5, 120, 2))],
)
def test_jobs_get_every_argument_their_script_reads(prod_plan, script, settings):
    job = prod_plan.one("aws:glue/job:Job", f"data-lake-{script.job}").inputs
    arguments = job["defaultArguments"]
    wanted = [name for name in entry_script_arguments(script.path) if name != "JOB_NAME"]
    assert [f"--{name}" for name in wanted if f"--{name}" not in arguments] == []
    assert (job["workerType"], job["numberOfWorkers"], job["timeout"], job["maxRetries"]) == settings
    assert job["glueVersion"] == "5.1"
    assert job["command"] == {
        "name": "glueetl",
        "pythonVersion": "3",
        "scriptLocation": f"s3://{bucket(PROD, 'processed')}/glue-scripts/{script.path.name}",
    }
    assert job["executionProperty"] == {"maxConcurrentRuns": 1}
    assert job["securityConfiguration"] == f"{PROD}-glue"
    assert arguments["--processed-bucket"] == f"{bucket(PROD, 'processed')}"
    assert arguments["--raw-bucket"] == f"{bucket(PROD, 'raw')}"
    assert arguments["--job-bookmark-option"] == "job-bookmark-enable"
    assert arguments["--enable-continuous-cloudwatch-log"] == "true"
    assert arguments["--custom-logGroup-prefix"] == f"/aws-glue/jobs/{PROD}-etl"
    assert arguments["--enable-spark-ui"] == "true"
    assert arguments["--spark-event-logs-path"] == f"s3://{bucket(PROD, 'processed')}/spark-logs/{script.job}/"
    assert arguments["--TempDir"] == f"s3://{bucket(PROD, 'processed')}/temp/{script.job}/"
    assert arguments["--extra-py-files"] == f"s3://{bucket(PROD, 'processed')}/glue-scripts/glue_etl.zip"


def test_job_specific_arguments(dev_plan):
    customer = dev_plan.one("aws:glue/job:Job", "data-lake-customer-transform").inputs["defaultArguments"]
    assert customer["--raw-bucket"] == f"{bucket(DEV, 'raw')}"
    sales = dev_plan.one("aws:glue/job:Job", "data-lake-sales-aggregation").inputs["defaultArguments"]
    assert (sales["--raw-bucket"], sales["--top-products"]) == (bucket(DEV, "raw"), "10")
    # the orchestration passes --run-summary-key per execution; nothing else may set it
    assert "--run-summary-key" not in sales and "--run-summary-key" not in customer


def test_glue_encrypts_its_cloudwatch_logs_into_declared_groups_with_the_lake_key(dev_plan):
    """The security configuration encrypts S3 output, bookmarks and CloudWatch logs; the crawlers' group, which
    Glue names after the role and the configuration, exists first with the key and a retention."""
    config = dev_plan.one("aws:glue/securityConfiguration:SecurityConfiguration", "data-lake-glue-security")
    encryption = config.inputs["encryptionConfiguration"]
    assert encryption["cloudwatchEncryption"] == {"cloudwatchEncryptionMode": "SSE-KMS", "kmsKeyArn": key_arn(dev_plan)}
    role = dev_plan.one("aws:iam/role:Role", "data-lake-glue-role").inputs["name"]
    group = dev_plan.one("aws:cloudwatch/logGroup:LogGroup", "data-lake-glue-crawler-logs").inputs
    assert group["name"] == f"/aws-glue/crawlers-role/{role}-{config.inputs['name']}"
    assert (group["kmsKeyId"], group["retentionInDays"]) == (key_arn(dev_plan), 30)


def test_job_log_groups_have_the_configured_retention_and_key(dev_plan, prod_plan):
    for plan, days in ((dev_plan, 30), (prod_plan, 365)):  # prod keeps every log a year
        prefix = DEV if plan is dev_plan else PROD
        groups = {r.inputs["name"]: r.inputs for r in plan.of_type("aws:cloudwatch/logGroup:LogGroup")}
        for stream in ("output", "error"):
            group = groups[f"/aws-glue/jobs/{prefix}-etl/{stream}"]
            assert (group["retentionInDays"], group["kmsKeyId"]) == (days, key_arn(plan))
        assert groups[f"/aws/lambda/{prefix}-ingestion-trigger"]["retentionInDays"] == (14 if plan is dev_plan else 365)


def test_catalog_tables_match_what_spark_writes(dev_plan):
    for table in PROCESSED_TABLES:
        inputs = dev_plan.one(
            "aws:glue/catalogTable:CatalogTable", f"data-lake-table-{table.name.replace('_', '-')}"
        ).inputs
        descriptor = inputs["storageDescriptor"]
        assert [(c["name"], c["type"]) for c in descriptor["columns"]] == [(c.name, c.type) for c in table.columns]
        assert [(c["name"], c["type"]) for c in inputs["partitionKeys"]] == [
            (c.name, c.type) for c in table.partition_keys
        ]
        assert descriptor["location"] == f"s3://{bucket(DEV, 'processed')}/{table.prefix}"
        assert (
            descriptor["serDeInfo"]["serializationLibrary"]
            == "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"
        )
        projected = inputs["parameters"].get("projection.enabled") == "true"
        assert projected == (table in MONTHLY_TABLES)
        if projected:
            assert inputs["parameters"]["storage.location.template"] == (
                f"s3://{bucket(DEV, 'processed')}/{table.prefix}year=${{year}}/month=${{month}}/"
            )


# -- ingestion --------------------------------------------------------------------------------


def test_ingestion_trigger_routes_each_prefix_to_its_crawler(dev_plan):
    function = dev_plan.one("aws:lambda/function:Function", "data-lake-ingestion-trigger-function").inputs
    assert json.loads(function["environment"]["variables"]["CRAWLER_ROUTES"]) == {
        f"raw/{e}/": f"{DEV}-{e}-crawler" for e in ("customers", "products", "transactions")
    }
    assert function["reservedConcurrentExecutions"] == -1  # dev reserves no concurrency (prod only, by default)
    assert function["deadLetterConfig"] == {"targetArn": f"arn:aws:sqs:eu-west-1:{ACCOUNT}:{DEV}-ingestion-trigger-dlq"}
    granted = statements(dev_plan.one("aws:iam/rolePolicy:RolePolicy", "data-lake-ingestion-trigger-policy"))
    assert granted["StartFeedCrawlers"]["Action"] == "glue:StartCrawler"
    assert sorted(granted["StartFeedCrawlers"]["Resource"]) == [
        f"arn:aws:glue:eu-west-1:{ACCOUNT}:crawler/{DEV}-{e}-crawler" for e in ("customers", "products", "transactions")
    ]


def test_raw_bucket_notifies_the_trigger_for_objects_under_raw(dev_plan):
    permission = dev_plan.one("aws:lambda/permission:Permission", "data-lake-raw-bucket-invoke")
    assert permission.inputs["principal"] == "s3.amazonaws.com"
    assert permission.inputs["sourceArn"] == f"arn:aws:s3:::{bucket(DEV, 'raw')}"
    assert permission.inputs["sourceAccount"] == ACCOUNT
    notification = dev_plan.one("aws:s3/bucketNotification:BucketNotification", "data-lake-raw-notifications")
    assert notification.inputs["lambdaFunctions"] == [
        {
            "lambdaFunctionArn": f"arn:aws:lambda:eu-west-1:{ACCOUNT}:function:{DEV}-ingestion-trigger",
            "events": ["s3:ObjectCreated:*"],
            "filterPrefix": "raw/",
        }
    ]
    assert permission.urn in notification.depends_on


def test_sample_generator_writes_only_under_raw_and_is_off_in_prod(dev_plan, prod_plan):
    granted = statements(dev_plan.one("aws:iam/rolePolicy:RolePolicy", "data-lake-sample-data-policy"))
    assert granted["WriteRawFeeds"] == {
        "Effect": "Allow",
        "Sid": "WriteRawFeeds",
        "Action": "s3:PutObject",
        "Resource": f"arn:aws:s3:::{bucket(DEV, 'raw')}/raw/*",
    }
    assert not [r for r in prod_plan.of_type("aws:lambda/function:Function") if "sample-data" in r.name]


# -- Athena -----------------------------------------------------------------------------------


def test_workgroup_enforces_engine_v3_kms_results_and_scan_limit(dev_plan, prod_plan):
    for plan, prefix, cutoff in ((dev_plan, DEV, 1024**3), (prod_plan, PROD, 10 * 1024**3)):
        workgroup = plan.one("aws:athena/workgroup:Workgroup").inputs
        config = workgroup["configuration"]
        assert workgroup["name"] == f"{prefix}-analytics"
        assert config["enforceWorkgroupConfiguration"] is True
        assert config["engineVersion"] == {"selectedEngineVersion": "Athena engine version 3"}
        assert config["bytesScannedCutoffPerQuery"] == cutoff
        assert config["resultConfiguration"]["outputLocation"] == f"s3://{bucket(prefix, 'athena-results')}/athena/"
        assert config["resultConfiguration"]["encryptionConfiguration"] == {
            "encryptionOption": "SSE_KMS",
            "kmsKeyArn": key_arn(plan),
        }


def test_named_queries_carry_the_sql_files_verbatim(dev_plan):
    recorded = {r.inputs["name"]: r.inputs for r in dev_plan.of_type("aws:athena/namedQuery:NamedQuery")}
    expected = named_queries()
    assert sorted(recorded) == [q.name for q in expected]
    for query in expected:
        assert recorded[query.name]["query"] == query.sql
        assert recorded[query.name]["database"] == "platform_dev_datalake_analytics"
        assert recorded[query.name]["workgroup"] == f"{DEV}-analytics"
        assert recorded[query.name]["description"] == query.description


def test_stack_outputs_name_what_operators_use(dev_plan):
    outputs = dev_plan.outputs["dataLake"]
    assert {
        k: outputs[k] for k in ("rawBucket", "processedBucket", "athenaResultsBucket", "database", "workgroup")
    } == {
        "rawBucket": f"{bucket(DEV, 'raw')}",
        "processedBucket": f"{bucket(DEV, 'processed')}",
        "athenaResultsBucket": f"{bucket(DEV, 'athena-results')}",
        "database": "platform_dev_datalake_analytics",
        "workgroup": f"{DEV}-analytics",
    }
    assert outputs["crawlers"] == {e: f"{DEV}-{e}-crawler" for e in ("customers", "transactions", "products")}
    assert outputs["jobs"] == {
        "customerTransform": f"{DEV}-customer-transform",
        "salesAggregation": f"{DEV}-sales-aggregation",
    }


# -- configuration ----------------------------------------------------------------------------


def base_config(data_lake: dict) -> dict[str, str]:
    return {
        "aws:region": "eu-west-1",
        "platform:environment": "dev",
        "platform:drRegion": "eu-central-1",
        "platform:tags": json.dumps({"owner": "team", "costCenter": "CC-1"}),
        "platform:dataLake": json.dumps(data_lake),
    }


@pytest.mark.parametrize(
    ("data_lake", "message"),
    [
        (
            {"rawGlacierInstantDays": 45},
            "rawGlacierInstantDays (45) must be at least rawInfrequentAccessDays (30) + 30",
        ),
        ({"rawDeepArchiveDays": 365}, "platform:dataLake.rawDeepArchiveDays: unknown key"),
        ({"refreshSchedule": "daily"}, "platform:dataLake.refreshSchedule"),
        ({"bytesScannedCutoffPerQuery": 1000}, "platform:dataLake.bytesScannedCutoffPerQuery: got 1000"),
        ({"salesAggregation": {"workerType": "G.16X"}}, 'platform:dataLake.salesAggregation.workerType: got "G.16X"'),
        ({"glueLogRetentionDays": 10}, "10 is not a CloudWatch Logs retention"),
        ({"glueVersion": "4.0"}, 'platform:dataLake.glueVersion: got "4.0"'),
        ({"rawBucket": "x"}, "platform:dataLake.rawBucket: unknown key"),
    ],
)
def test_bad_settings_are_reported_with_their_key(data_lake, message):
    with pytest.raises(ConfigError) as error:
        parse_stack_config(base_config(data_lake), project="platform", stack="dev")
    assert message in str(error.value)


# -- alarms -----------------------------------------------------------------------------------


def test_alert_topic_is_encrypted_and_only_alarms_and_glue_events_publish(prod_plan):
    topic = prod_plan.one("aws:sns/topic:Topic", "data-lake-alarms")
    assert topic.inputs["name"] == f"{PROD}-alarms"
    assert topic.inputs["kmsMasterKeyId"] == key_arn(prod_plan)
    grants = statements(prod_plan.one("aws:sns/topicPolicy:TopicPolicy", "data-lake-alarms-policy"))
    assert grants["CloudWatchAlarmsPublish"]["Principal"] == {"Service": "cloudwatch.amazonaws.com"}
    assert grants["GlueStateEventsPublish"]["Principal"] == {"Service": "events.amazonaws.com"}
    assert grants["GlueStateEventsPublish"]["Condition"] == {"StringEquals": {"aws:SourceAccount": ACCOUNT}}
    key_services = {
        s["Principal"].get("Service")
        for s in policy(prod_plan.one("aws:kms/key:Key", "data-lake-data-key-key"))["Statement"]
    }
    assert {"cloudwatch.amazonaws.com", "events.amazonaws.com"} <= key_services


@pytest.mark.parametrize(
    ("alarm_name", "queue_name"),
    [
        ("data-lake-ingestion-dead-letters", "data-lake-ingestion-trigger-dlq"),
        # Undelivered Glue failure alerts and scheduled refreshes that never started.
        ("data-lake-alert-dead-letters", "data-lake-alert-dlq"),
    ],
)
def test_dead_letters_raise_an_alarm(prod_plan, alarm_name, queue_name):
    alarm = prod_plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", alarm_name)
    dlq = prod_plan.one("aws:sqs/queue:Queue", queue_name)
    assert alarm.inputs["namespace"] == "AWS/SQS"
    assert alarm.inputs["metricName"] == "ApproximateNumberOfMessagesVisible"
    assert alarm.inputs["dimensions"] == {"QueueName": dlq.outputs["name"]}
    assert alarm.inputs["threshold"] == 0 and alarm.inputs["comparisonOperator"] == "GreaterThanThreshold"
    topic_arn = prod_plan.one("aws:sns/topic:Topic", "data-lake-alarms").outputs["arn"]
    assert alarm.inputs["alarmActions"] == [topic_arn]


def test_the_schedule_may_dead_letter_a_refresh_it_could_not_start(prod_plan):
    """EventBridge Scheduler sends a schedule's dead letters as the schedule's role, to a CMK queue."""
    schedule = prod_plan.one("aws:scheduler/schedule:Schedule", "data-lake-refresh-schedule").inputs["target"]
    dlq = prod_plan.one("aws:sqs/queue:Queue", "data-lake-alert-dlq").outputs["arn"]
    assert schedule["deadLetterConfig"] == {"arn": dlq}
    granted = statements(prod_plan.one("aws:iam/rolePolicy:RolePolicy", "data-lake-refresh-starter-policy"))
    assert granted["ScheduleDeadLetters"]["Action"] == "sqs:SendMessage"
    assert granted["ScheduleDeadLetters"]["Resource"] == dlq
    assert granted["ScheduleDeadLettersKey"]["Condition"] == {
        "StringEquals": {"kms:ViaService": "sqs.us-east-1.amazonaws.com"}
    }


def test_failed_glue_jobs_and_crawlers_of_this_lake_reach_the_topic(prod_plan):
    jobs = json.loads(
        prod_plan.one("aws:cloudwatch/eventRule:EventRule", "data-lake-job-failures").inputs["eventPattern"]
    )
    assert jobs == {
        "source": ["aws.glue"],
        "detail-type": ["Glue Job State Change"],
        "detail": {
            "jobName": [f"{PROD}-customer-transform", f"{PROD}-sales-aggregation"],
            "state": ["FAILED", "TIMEOUT", "ERROR"],
        },
    }
    crawlers = json.loads(
        prod_plan.one("aws:cloudwatch/eventRule:EventRule", "data-lake-crawler-failures").inputs["eventPattern"]
    )
    assert crawlers["detail-type"] == ["Glue Crawler State Change"]
    assert sorted(crawlers["detail"]["crawlerName"]) == sorted(
        r.inputs["name"] for r in prod_plan.of_type("aws:glue/crawler:Crawler")
    )
    assert crawlers["detail"]["state"] == ["Failed"]
    topic_arn = prod_plan.one("aws:sns/topic:Topic", "data-lake-alarms").outputs["arn"]
    dlq_arn = prod_plan.one("aws:sqs/queue:Queue", "data-lake-alert-dlq").outputs["arn"]
    for purpose in ("job-failures", "crawler-failures"):
        target = prod_plan.one("aws:cloudwatch/eventTarget:EventTarget", f"data-lake-{purpose}-alert")
        assert target.inputs["arn"] == topic_arn
        assert target.inputs["deadLetterConfig"] == {"arn": dlq_arn}
        assert target.inputs["retryPolicy"]["maximumRetryAttempts"] > 0
    sender = statements(prod_plan.one("aws:sqs/queuePolicy:QueuePolicy", "data-lake-alert-dlq-policy"))
    rule_arns = [
        prod_plan.one("aws:cloudwatch/eventRule:EventRule", f"data-lake-{p}").outputs["arn"]
        for p in ("job-failures", "crawler-failures", "refresh-on-new-data")
    ]
    assert sender["GlueFailureRulesOfThisLake"]["Condition"] == {"ArnEquals": {"aws:SourceArn": rule_arns}}


# -- refresh orchestration --------------------------------------------------------------------


def test_orchestration_state_machine_refreshes_this_lake(dev_plan):
    machine = dev_plan.one("aws:sfn/stateMachine:StateMachine", "data-lake-refresh").inputs
    assert machine["name"] == f"{DEV}-refresh" and machine["type"] == "STANDARD"
    definition = json.loads(machine["definition"])
    plan = definition["States"]["Plan"]["Parameters"]
    assert plan == {
        "rawCrawlers": [f"{DEV}-{e}-crawler" for e in ("customers", "transactions", "products")],
        "processedCrawlers": [f"{DEV}-processed-crawler"],
        "summaryPrefix": "runs/",
    }
    branches = definition["States"]["RunJobs"]["Branches"]
    assert [b["States"][b["StartAt"]]["Parameters"]["JobName"] for b in branches] == [
        f"{DEV}-customer-transform",
        f"{DEV}-sales-aggregation",
    ]
    loop = definition["States"]["CrawlRawFeeds"]["ItemProcessor"]["States"]
    assert loop["WaitForCrawl"]["Seconds"] == 30
    assert loop["CrawlFinished"]["Choices"][-1]["NumericGreaterThanEquals"] == 120
    assert machine["encryptionConfiguration"]["kmsKeyId"] == key_arn(dev_plan)
    assert machine["loggingConfiguration"]["level"] == "ERROR"
    assert machine["tracingConfiguration"] == {"enabled": True}


def test_orchestration_role_reaches_only_this_lakes_crawlers_jobs_summaries_and_bus(dev_plan):
    granted = statements(dev_plan.one("aws:iam/rolePolicy:RolePolicy", "data-lake-refresh-policy"))
    glue = f"arn:aws:glue:eu-west-1:{ACCOUNT}"
    assert as_list(granted["RunCrawlers"]["Resource"]) == [
        f"{glue}:crawler/{DEV}-{c}-crawler" for c in ("customers", "transactions", "products", "processed")
    ]
    assert as_list(granted["RunJobs"]["Resource"]) == [
        f"{glue}:job/{DEV}-customer-transform",
        f"{glue}:job/{DEV}-sales-aggregation",
    ]
    assert granted["ReadRunSummaries"]["Resource"] == f"arn:aws:s3:::{bucket(DEV, 'processed')}/runs/*"
    assert granted["AnnounceLakeRefreshed"]["Resource"] == f"arn:aws:events:eu-west-1:{ACCOUNT}:event-bus/default"
    machine_arn = f"arn:aws:states:eu-west-1:{ACCOUNT}:stateMachine:{DEV}-refresh"
    assert granted["EncryptExecutionData"]["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": machine_arn}
    }
    assert granted["EncryptExecutionLogs"]["Action"] in ("kms:GenerateDataKey", ["kms:GenerateDataKey"])
    assert granted["EncryptExecutionLogs"]["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:SourceArn": f"arn:aws:logs:eu-west-1:{ACCOUNT}:*"}
    }
    unscoped = sorted(s["Sid"] for s in granted.values() if "Resource" not in s or s["Resource"] == "*")
    assert unscoped == ["DeliverExecutionLogs", "Tracing"]


def test_orchestration_runs_on_a_schedule_and_on_new_raw_feeds(dev_plan):
    machine = dev_plan.one("aws:sfn/stateMachine:StateMachine", "data-lake-refresh")
    starter = dev_plan.one("aws:iam/role:Role", "data-lake-refresh-starter-role")
    dlq_arn = dev_plan.one("aws:sqs/queue:Queue", "data-lake-alert-dlq").outputs["arn"]
    schedule = dev_plan.one("aws:scheduler/schedule:Schedule", "data-lake-refresh-schedule").inputs
    assert (schedule["scheduleExpression"], schedule["scheduleExpressionTimezone"]) == ("cron(0 3 * * ? *)", "UTC")
    assert schedule["flexibleTimeWindow"] == {"mode": "OFF"}
    target = schedule["target"]
    assert (target["arn"], target["roleArn"]) == (machine.outputs["arn"], starter.outputs["arn"])
    assert target["deadLetterConfig"] == {"arn": dlq_arn}
    pattern = json.loads(
        dev_plan.one("aws:cloudwatch/eventRule:EventRule", "data-lake-refresh-on-new-data").inputs["eventPattern"]
    )
    assert pattern == {
        "source": ["aws.s3"],
        "detail-type": ["Object Created"],
        "detail": {
            "bucket": {"name": [bucket(DEV, "raw")]},
            "object": {"key": [{"prefix": f"raw/{e}/"} for e in ("customers", "transactions", "products")]},
        },
    }
    rule_target = dev_plan.one("aws:cloudwatch/eventTarget:EventTarget", "data-lake-refresh-on-new-data-target")
    assert (rule_target.inputs["arn"], rule_target.inputs["deadLetterConfig"]) == (
        machine.outputs["arn"],
        {"arn": dlq_arn},
    )
    notification = dev_plan.one("aws:s3/bucketNotification:BucketNotification", "data-lake-raw-notifications")
    assert notification.inputs["eventbridge"] is True
    start = statements(dev_plan.one("aws:iam/rolePolicy:RolePolicy", "data-lake-refresh-starter-policy"))
    assert start["StartRefresh"]["Resource"] == machine.outputs["arn"]
    # The schedule's input is encrypted with the lake key, which the starter role may decrypt.
    assert schedule["kmsKeyArn"] == key_arn(dev_plan)
    assert (start["DecryptScheduleInput"]["Action"], start["DecryptScheduleInput"]["Resource"]) == (
        "kms:Decrypt",
        key_arn(dev_plan),
    )
    # Starting the CMK-encrypted state machine encrypts its input under the state machine's ARN.
    encrypt = start["EncryptExecutionInput"]
    assert (encrypt["Action"], encrypt["Resource"]) == ("kms:GenerateDataKey", key_arn(dev_plan))
    assert encrypt["Condition"] == {
        "StringEquals": {"kms:EncryptionContext:aws:states:stateMachineArn": machine.outputs["arn"]}
    }


def test_failed_refreshes_raise_an_alarm(prod_plan):
    alarm = prod_plan.one("aws:cloudwatch/metricAlarm:MetricAlarm", "data-lake-refresh-failures").inputs
    machine = prod_plan.one("aws:sfn/stateMachine:StateMachine", "data-lake-refresh")
    assert (alarm["namespace"], alarm["metricName"]) == ("AWS/States", "ExecutionsFailed")
    assert alarm["dimensions"] == {"StateMachineArn": machine.outputs["arn"]}
    assert alarm["alarmActions"] == [prod_plan.one("aws:sns/topic:Topic", "data-lake-alarms").outputs["arn"]]


# -- events path ------------------------------------------------------------------------------


def test_events_path_is_off_unless_asked_for(dev_plan):
    assert not dev_plan.of_type("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream")
    assert dev_plan.outputs["dataLake"].get("eventsDeliveryStream") is None


def test_events_to_lake_needs_the_orders_component():
    config = {**base_config({"eventsToLake": True}), "platform:orders": json.dumps({"enabled": False})}
    with pytest.raises(ConfigError, match=r"dataLake\.eventsToLake: true but orders is not enabled"):
        parse_stack_config(config, project="platform", stack="dev")


@pytest.fixture(scope="module")
def events_plan():
    from offline.runner import merge_config, run_program
    from tests.conftest import stack_config

    return run_program("dev", merge_config(stack_config("dev"), {"platform:dataLake": {"eventsToLake": True}}))


def test_firehose_delivers_the_orders_bus_into_raw_events(events_plan):
    from components.data_lake import firehose

    stream = events_plan.one("aws:kinesis/firehoseDeliveryStream:FirehoseDeliveryStream", "data-lake-events-delivery")
    s3 = stream.inputs["extendedS3Configuration"]
    assert s3["bucketArn"] == f"arn:aws:s3:::{bucket(DEV, 'raw')}"
    assert (s3["prefix"], s3["errorOutputPrefix"]) == (firehose.EVENTS_PREFIX, firehose.EVENTS_ERROR_PREFIX)
    assert s3["dynamicPartitioningConfiguration"]["enabled"] is True
    assert s3["bufferingSize"] >= 64 and s3["compressionFormat"] == "GZIP"
    assert s3["kmsKeyArn"] == key_arn(events_plan)
    [extraction, delimiter] = s3["processingConfiguration"]["processors"]
    assert extraction["parameters"][0] == {
        "parameterName": "MetadataExtractionQuery",
        "parameterValue": firehose.PARTITION_QUERY,
    }
    assert delimiter["type"] == "AppendDelimiterToRecord"
    assert stream.inputs["serverSideEncryption"] == {
        "enabled": True,
        "keyType": "CUSTOMER_MANAGED_CMK",
        "keyArn": key_arn(events_plan),
    }
    role = events_plan.one("aws:iam/role:Role", "data-lake-events-delivery-role")
    trust = json.loads(role.inputs["assumeRolePolicy"])["Statement"][0]
    # Firehose documents the account id as sts:ExternalId when it assumes the role, not aws:SourceAccount.
    assert trust["Principal"] == {"Service": "firehose.amazonaws.com"}
    assert trust["Condition"] == {"StringEquals": {"sts:ExternalId": ACCOUNT}}
    granted = statements(events_plan.one("aws:iam/rolePolicy:RolePolicy", "data-lake-events-delivery-policy"))
    raw = f"arn:aws:s3:::{bucket(DEV, 'raw')}"
    assert as_list(granted["WriteEvents"]["Resource"]) == [f"{raw}/raw/events/*", f"{raw}/raw/events-errors/*"]

    bus = events_plan.one("aws:cloudwatch/eventBus:EventBus", "orders-bus")
    rule = events_plan.one("aws:cloudwatch/eventRule:EventRule", "data-lake-events-to-lake").inputs
    assert rule["eventBusName"] == bus.outputs["name"]
    assert json.loads(rule["eventPattern"]) == {"source": [{"prefix": "ecommerce."}]}
    target = events_plan.one("aws:cloudwatch/eventTarget:EventTarget", "data-lake-events-to-lake-target").inputs
    assert target["arn"] == stream.outputs["arn"] and target["deadLetterConfig"]["arn"]


def test_events_crawler_query_and_refresh_cover_the_events_table(events_plan):
    crawler = events_plan.one("aws:glue/crawler:Crawler", "data-lake-events-crawler").inputs
    assert crawler["s3Targets"] == [{"path": f"s3://{bucket(DEV, 'raw')}/raw/events/"}]
    assert crawler["tablePrefix"] == "raw_"
    queries = {q.inputs["name"]: q.inputs for q in events_plan.of_type("aws:athena/namedQuery:NamedQuery")}
    assert "orders_per_hour_by_status" in queries
    definition = json.loads(
        events_plan.one("aws:sfn/stateMachine:StateMachine", "data-lake-refresh").inputs["definition"]
    )
    assert f"{DEV}-events-crawler" in definition["States"]["Plan"]["Parameters"]["rawCrawlers"]


def test_lake_refreshed_is_announced_for_subscribers_outside_this_program(dev_plan):
    """Nothing in this program routes `Lake Refreshed`, on purpose: it is the lake's announcement to
    consumers outside the platform (dashboards refreshing their extracts, analysts' notebooks), who
    subscribe to the account's default bus; it carries the row counts they need. A rule here matching
    it would mean a consumer inside the program, and this test would have to say which."""
    from components.data_lake import orchestration

    definition = json.loads(dev_plan.one("aws:sfn/stateMachine:StateMachine", "data-lake-refresh").inputs["definition"])
    [entry] = definition["States"]["AnnounceLakeRefreshed"]["Parameters"]["Entries"]
    assert (entry["EventBusName"], entry["Source"], entry["DetailType"]) == (
        "default",
        orchestration.EVENT_SOURCE,
        orchestration.LAKE_REFRESHED,
    )
    patterns = [r.inputs.get("eventPattern", "") for r in dev_plan.of_type("aws:cloudwatch/eventRule:EventRule")]
    assert not [p for p in patterns if orchestration.EVENT_SOURCE in p]
