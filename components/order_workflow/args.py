"""Typed arguments of the OrderWorkflow component: the `orders` section of the stack configuration."""

from __future__ import annotations

from components.config_types import ComponentConfig


class OrderWorkflowArgs(ComponentConfig):
    """Settings of the OrderWorkflow component, with production-sensible defaults."""
