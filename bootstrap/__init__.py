"""The account bootstrap: a second, small Pulumi project applied once per AWS account, before the platform."""
