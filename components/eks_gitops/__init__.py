"""Component package: `args` holds its typed configuration, `component` the resource."""
