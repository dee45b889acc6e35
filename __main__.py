"""The platform program: validate the stack's configuration, then build the enabled components."""

from __future__ import annotations

import pulumi

from components.backup_vault.component import BackupVault
from components.config import ConfigError, load_stack_config
from components.context import StackContext
from components.data_lake.component import DataLake
from components.data_lake.firehose import EventBusRef
from components.eks_gitops.component import EksGitOpsCluster
from components.feature_store.component import FeatureStorePipeline
from components.order_workflow.component import OrderWorkflow


def main() -> None:
    try:
        config = load_stack_config()
    except ConfigError as error:
        raise pulumi.RunError(str(error)) from None
    ctx = StackContext.create(config)
    pulumi.export("environment", config.environment)
    pulumi.export("regions", {"primary": config.region, "dr": config.dr_region})
    if config.eks.enabled:
        eks_outputs = EksGitOpsCluster("eks", ctx, config.eks).stack_outputs()
        # A secret anywhere in an output object makes all of it secret: keep the kubeconfig on its own.
        pulumi.export("kubeconfig", eks_outputs.pop("kubeconfig"))
        pulumi.export("eks", eks_outputs)
    if config.feature_store.enabled:
        feature_store = FeatureStorePipeline("feature-store", ctx, config.feature_store)
        pulumi.export("featureStore", feature_store.stack_outputs())
    orders = OrderWorkflow("orders", ctx, config.orders) if config.orders.enabled else None
    if config.data_lake.enabled:
        # The lake receives the orders bus's events when eventsToLake is on (a config rule requires orders).
        bus = EventBusRef(orders.bus.name, orders.bus.arn) if orders and config.data_lake.events_to_lake else None
        data_lake = DataLake("data-lake", ctx, config.data_lake, event_bus=bus)
        pulumi.export("dataLake", data_lake.stack_outputs())
    if config.backup.enabled:
        backup = BackupVault("backup", ctx, config.backup)
        pulumi.export("backup", backup.stack_outputs())
    if orders is not None:
        pulumi.export("orders", orders.stack_outputs())


main()
