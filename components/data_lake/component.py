"""The DataLake component resource."""

from __future__ import annotations

from typing import Any

import pulumi

from components.context import StackContext
from components.data_lake.args import DataLakeArgs

COMPONENT = "datalake"


class DataLake(pulumi.ComponentResource):
    """Placeholder until the component lands: it refuses to run when enabled."""

    def __init__(self, name: str, ctx: StackContext, args: DataLakeArgs, opts: pulumi.ResourceOptions | None = None) -> None:
        super().__init__("platform:index:DataLake", name, None, opts)
        raise NotImplementedError("DataLake is not built yet; set enabled: false for it")

    def stack_outputs(self) -> dict[str, Any]:
        return {}
