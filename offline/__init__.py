"""Offline evaluation of the Pulumi program: recording mocks, a runner and the `make plan` command."""
