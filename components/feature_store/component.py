"""The FeatureStorePipeline component resource."""

from __future__ import annotations

from typing import Any

import pulumi

from components.context import StackContext
from components.feature_store.args import FeatureStoreArgs

COMPONENT = "featurestore"


class FeatureStorePipeline(pulumi.ComponentResource):
    """Placeholder until the component lands: it refuses to run when enabled."""

    def __init__(self, name: str, ctx: StackContext, args: FeatureStoreArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:FeatureStorePipeline", name, None, opts)
        raise NotImplementedError("FeatureStorePipeline is not built yet; set enabled: false for it")

    def stack_outputs(self) -> dict[str, Any]:
        return {}
