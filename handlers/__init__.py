"""Lambda handler code. Each function packages one module of a component folder plus `common/`."""
