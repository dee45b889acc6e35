"""Typed arguments of the FeatureStore component: the `featureStore` section of the stack configuration."""

from __future__ import annotations

from components.config_types import ComponentConfig


class FeatureStoreArgs(ComponentConfig):
    """Settings of the FeatureStore component, with production-sensible defaults."""
