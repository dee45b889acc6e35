"""How a component makes its children: one scope object per component instance.

A scope carries what every child of one component instance shares: the parent resource, the provider
(primary region unless the scope is moved to the DR region), the component's CMK and alarm topic,
the logical-name prefix (the component's Pulumi `name`) and the physical-name slug. Children built
through it get

- a logical name `<name>-<purpose>`, so two instances of a component in one program never share a URN;
- a physical name `<project>-<stack>-<slug>-<purpose>` (bucket names also carry the account id and
  region, since S3 names are global), so two instances never share a name in AWS;
- options merged in one order everywhere: the scope's parent and provider first, then what the caller
  adds (dependencies, ...), then `protect` for stateful resources in prod, which no caller can undo.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

import pulumi
import pulumi_aws as aws

from components.context import StackContext
from components.iam import Statement, policy_document
from components.kms import CustomerManagedKey
from components.lambda_function import FunctionSpec, PythonFunction
from components.observability import Metric, Publisher, alarm_topic, metric_alarm
from components.queues import encrypted_queue
from components.tables import encrypted_table

SLUG = re.compile(r"^[a-z][a-z0-9-]{0,19}$")


def component_options(ctx: StackContext, opts: pulumi.ResourceOptions | None) -> pulumi.ResourceOptions:
    """Options of a component resource itself: the stack's primary provider, then what the caller gave
    (a caller may pass other providers, a parent, aliases...)."""
    return pulumi.ResourceOptions.merge(pulumi.ResourceOptions(providers={"aws": ctx.primary}), opts)


def check_slug(slug: str) -> str:
    if not SLUG.match(slug):
        raise ValueError(
            f"component slug {slug!r} must start with a letter and be at most 20 lowercase letters, digits "
            "and hyphens (it is part of every physical name)"
        )
    return slug


@dataclass(frozen=True)
class Scope:
    """What the children of one component instance share (see the module docstring)."""

    ctx: StackContext
    parent: pulumi.Resource
    name: str
    slug: str
    provider: aws.Provider | None = None
    region: str | None = None
    key_arn: pulumi.Input[str] | None = None
    alarm_topic_arn: pulumi.Input[str] | None = None

    @classmethod
    def of(cls, component: pulumi.Resource, ctx: StackContext, name: str, slug: str) -> Scope:
        return cls(ctx=ctx, parent=component, name=name, slug=check_slug(slug))

    # -- variants ----------------------------------------------------------------------------

    def with_key(self, key_arn: pulumi.Input[str]) -> Scope:
        return replace(self, key_arn=key_arn)

    def with_alarm_topic(self, topic_arn: pulumi.Input[str]) -> Scope:
        return replace(self, alarm_topic_arn=topic_arn)

    def in_dr(self, key_arn: pulumi.Input[str] | None = None) -> Scope:
        """The same component, building in the DR region through the stack's DR provider."""
        return replace(self, provider=self.ctx.dr, region=self.ctx.dr_region, key_arn=key_arn)

    def under(self, parent: pulumi.Resource) -> Scope:
        """Children of a grouping resource inside the component (same names, another parent)."""
        return replace(self, parent=parent)

    # -- names -------------------------------------------------------------------------------

    @property
    def where(self) -> str:
        """The region this scope builds in."""
        return self.region or self.ctx.region

    def child(self, purpose: str) -> str:
        """Logical name of a child: `<component name>-<purpose>`."""
        return f"{self.name}-{purpose}"

    def physical(self, purpose: str, service: str = "default") -> str:
        """Physical name `<project>-<stack>-<slug>-<purpose>` within the service's length limit."""
        return self.ctx.name(self.slug, purpose, service=service)

    def bucket_name(self, purpose: str) -> pulumi.Output[str]:
        """A globally unique bucket name: the physical name plus account id and region."""
        return self.ctx.bucket_name(self.slug, purpose, region=self.where)

    def arn(self, service: str, resource: str) -> pulumi.Output[str]:
        return self.ctx.arn(service, resource, region=self.where)

    # -- options -----------------------------------------------------------------------------

    def opts(self, *, stateful: bool = False, **extra: Any) -> pulumi.ResourceOptions:
        """Parent and provider, then the caller's `extra` (e.g. depends_on), then protect-in-prod."""
        merged = pulumi.ResourceOptions.merge(
            pulumi.ResourceOptions(parent=self.parent, provider=self.provider), pulumi.ResourceOptions(**extra)
        )
        return self.ctx.stateful(merged) if stateful else merged

    # -- children ----------------------------------------------------------------------------

    def _key(self) -> pulumi.Input[str]:
        if self.key_arn is None:
            raise ValueError(f"{self.name}: this child needs the component's key; build it and use scope.with_key()")
        return self.key_arn

    def key(
        self,
        purpose: str,
        *,
        description: str,
        services: Sequence[str] = (),
        extra_statements: Sequence[Statement] = (),
        tags: Mapping[str, str] | None = None,
    ) -> CustomerManagedKey:
        """The component's CMK for `purpose` (logical `<name>-<purpose>-key`, alias with the slug)."""
        return CustomerManagedKey(
            self.child(f"{purpose}-key"),
            self.ctx,
            component=self.slug,
            purpose=purpose,
            description=description,
            services=services,
            extra_statements=extra_statements,
            region=self.region,
            tags=tags,
            opts=self.opts(),
        )

    def queue(self, purpose: str, **kwargs: Any) -> aws.sqs.Queue:
        """An SQS queue encrypted with the scope's key (see components.queues.encrypted_queue)."""
        return encrypted_queue(
            self.child(purpose),
            self.ctx,
            component=self.slug,
            purpose=purpose,
            kms_key_arn=self._key(),
            opts=self.opts(),
            **kwargs,
        )

    def table(self, purpose: str, *, hash_key: str, **kwargs: Any) -> aws.dynamodb.Table:
        """A DynamoDB table encrypted with the scope's key (see components.tables.encrypted_table)."""
        return encrypted_table(
            self.child(purpose),
            self.ctx,
            component=self.slug,
            purpose=purpose,
            kms_key_arn=self._key(),
            hash_key=hash_key,
            opts=self.opts(),
            **kwargs,
        )

    def function(self, spec: FunctionSpec, *, depends_on: Sequence[pulumi.Resource] = ()) -> PythonFunction:
        """A Lambda function `<name>-<purpose>`, physically named with the scope's slug."""
        return PythonFunction(
            self.child(spec.purpose),
            self.ctx,
            replace(spec, component=self.slug),
            kms_key_arn=self._key(),
            opts=self.opts(depends_on=list(depends_on)) if depends_on else self.opts(),
        )

    def service_role(
        self,
        purpose: str,
        *,
        name: str,
        description: str,
        trust: pulumi.Input[str],
        statements: Sequence[Statement],
        policy_name: str = "least-privilege",
    ) -> tuple[aws.iam.Role, aws.iam.RolePolicy]:
        """A role an AWS service assumes (`trust`), physically `name`, with one inline least-privilege policy:
        logical names `<name>-<purpose>-role` and `<name>-<purpose>-policy`."""
        role = aws.iam.Role(
            self.child(f"{purpose}-role"),
            name=name,
            description=description,
            assume_role_policy=trust,
            opts=self.opts(),
        )
        policy = aws.iam.RolePolicy(
            self.child(f"{purpose}-policy"),
            role=role.id,
            name=policy_name,
            policy=policy_document(*statements),
            opts=self.opts(),
        )
        return role, policy

    def rule_invokes(
        self,
        rule: aws.cloudwatch.EventRule,
        function: PythonFunction,
        *,
        invoke_child: str,
        target_child: str,
        retry_policy: dict[str, int],
        dead_letter_arn: pulumi.Input[str],
        target_id: str | None = None,
    ) -> aws.cloudwatch.EventTarget:
        """`rule` may invoke `function` (a permission for this rule only) and does, retrying per
        `retry_policy`, with what it cannot deliver dead-lettered (the queue must let the rule send)."""
        permission = aws.lambda_.Permission(
            self.child(invoke_child),
            action="lambda:InvokeFunction",
            function=function.function.name,
            principal="events.amazonaws.com",
            source_arn=rule.arn,
            opts=self.opts(),
        )
        return aws.cloudwatch.EventTarget(
            self.child(target_child),
            rule=rule.name,
            target_id=target_id,
            arn=function.function.arn,
            retry_policy=retry_policy,
            dead_letter_config={"arn": dead_letter_arn},
            opts=self.opts(depends_on=[permission]),
        )

    def alarm_topic(
        self,
        purpose: str = "alarms",
        *,
        display_name: str | None = None,
        publishers: Sequence[Publisher] = (),
        email: str | None = None,
    ) -> aws.sns.Topic:
        """The CMK-encrypted topic this component's alarms notify; pass its ARN to with_alarm_topic()."""
        return alarm_topic(
            self.child(purpose),
            self.ctx,
            component=self.slug,
            purpose=purpose,
            kms_key_arn=self._key(),
            display_name=display_name,
            publishers=publishers,
            email=email,
            opts=self.opts(),
        )

    def alarm(
        self,
        purpose: str,
        description: str,
        metric: Metric,
        threshold: pulumi.Input[float] = 0,
        **kwargs: Any,
    ) -> aws.cloudwatch.MetricAlarm:
        """A metric alarm `<name>-<purpose>` notifying the scope's alarm topic."""
        if self.alarm_topic_arn is None:
            raise ValueError(f"{self.name}: alarms need the component's topic; use scope.with_alarm_topic()")
        return metric_alarm(
            self.child(purpose),
            self.ctx,
            component=self.slug,
            purpose=purpose,
            description=description,
            metric=metric,
            threshold=threshold,
            topic_arn=self.alarm_topic_arn,
            opts=self.opts(),
            **kwargs,
        )
