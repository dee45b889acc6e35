"""The platform's CrossGuard policy pack (`pulumi preview --policy-pack policy`); policies live in `policies/`."""
