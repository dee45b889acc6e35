"""Typed arguments of the DataLake component: the `dataLake` section of the stack configuration."""

from __future__ import annotations

from components.config_types import ComponentConfig


class DataLakeArgs(ComponentConfig):
    """Settings of the DataLake component, with production-sensible defaults."""
