"""What a recorded plan says about permissions: roles and their policies, functions and their roles,
keys and their policies, and the key behind every encrypted resource.

Everything is discovered by resource type and by the links AWS itself uses (a function's `role` ARN,
a role policy's `role` name, a resource's `kmsKeyId`), never by logical names, so it survives
renames of the components' children.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from offline.mocks import ACCOUNT_ID, RecordedResource
from offline.runner import PlanGraph, read_stack_config

COMPONENT_PREFIX = "platform:index:"


def _doc(value: Any) -> dict[str, Any]:
    return json.loads(value) if isinstance(value, str) else dict(value or {})


def arn_region(arn: str) -> str:
    return arn.split(":")[3]


@dataclass
class Role:
    name: str
    arn: str
    trust: dict[str, Any]
    component: str
    # (where it comes from, document): inline role policies and attached customer-managed policies.
    documents: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    # AWS-managed policies attached by ARN: not in the plan, so not evaluated (listed in reports).
    managed: list[str] = field(default_factory=list)

    @property
    def policies(self) -> list[dict[str, Any]]:
        return [doc for _, doc in self.documents]


@dataclass(frozen=True)
class Function:
    logical: str
    name: str
    arn: str
    handler: str
    role_arn: str
    region: str
    component: str
    environment: Mapping[str, str]
    inputs: Mapping[str, Any]

    @property
    def log_group_name(self) -> str:
        return (self.inputs.get("loggingConfig") or {}).get("logGroup") or f"/aws/lambda/{self.name}"


@dataclass
class PermissionModel:
    """The IAM-relevant facts of one stack's plan."""

    plan: PlanGraph
    roles: dict[str, Role]
    functions: list[Function]
    keys: dict[str, dict[str, Any]]  # key ARN -> key policy
    key_refs: dict[str, str]  # id, ARN, alias name or alias ARN -> key ARN
    encrypted: dict[str, str]  # resource ARN (or name for log groups/parameters) -> key ARN

    @property
    def stack(self) -> str:
        return self.plan.stack

    @property
    def region(self) -> str:
        """The stack's default region (`aws:region`)."""
        return str(read_stack_config(self.stack).get("aws:region", "us-east-1"))

    def role_by_arn(self, arn: str) -> Role:
        for role in self.roles.values():
            if role.arn == arn:
                return role
        raise LookupError(f"{self.stack}: no role {arn} in the plan")

    def key_arn(self, reference: str | None) -> str | None:
        if not reference:
            return None
        return self.key_refs.get(reference)

    def key_of(self, resource_arn: str) -> str | None:
        return self.encrypted.get(resource_arn)

    def with_policies(self, role_name: str, documents: list[tuple[str, dict[str, Any]]]) -> PermissionModel:
        """A copy where one role has other documents (for mutation tests)."""
        roles = {name: copy.copy(role) for name, role in self.roles.items()}
        roles[role_name].documents = documents
        return PermissionModel(self.plan, roles, self.functions, self.keys, self.key_refs, self.encrypted)

    def resources(self, type_token: str) -> list[RecordedResource]:
        return self.plan.of_type(type_token)

    def arn(self, resource: RecordedResource) -> str:
        return str(resource.outputs.get("arn", ""))


def component_name(plan: PlanGraph, resource: RecordedResource) -> str:
    urns = {r.urn: r for r in plan.resources}
    current = urns.get(resource.parent)
    while current is not None:
        if current.type.startswith(COMPONENT_PREFIX):
            return current.type.removeprefix(COMPONENT_PREFIX)
        current = urns.get(current.parent)
    return "(program)"


def _roles(plan: PlanGraph) -> dict[str, Role]:
    roles: dict[str, Role] = {}
    for r in plan.of_type("aws:iam/role:Role"):
        name = str(r.outputs.get("name") or r.id)
        roles[name] = Role(name, str(r.outputs["arn"]), _doc(r.inputs.get("assumeRolePolicy")), component_name(plan, r))
        for inline in r.inputs.get("inlinePolicies") or []:
            if inline.get("policy"):
                roles[name].documents.append((f"inline {inline.get('name')}", _doc(inline["policy"])))
    customer = {
        str(p.outputs["arn"]): (p.name, _doc(p.inputs["policy"])) for p in plan.of_type("aws:iam/policy:Policy")
    }
    for rp in plan.of_type("aws:iam/rolePolicy:RolePolicy"):
        roles[_role_name(rp.inputs["role"])].documents.append((f"role policy {rp.name}", _doc(rp.inputs["policy"])))
    for attachment in plan.of_type("aws:iam/rolePolicyAttachment:RolePolicyAttachment"):
        role = roles[_role_name(attachment.inputs["role"])]
        arn = attachment.inputs["policyArn"]
        if arn in customer:
            role.documents.append((f"policy {customer[arn][0]}", customer[arn][1]))
        else:
            role.managed.append(arn)
    return roles


def _role_name(reference: str) -> str:
    return reference.rsplit("/", 1)[-1]


def _functions(plan: PlanGraph) -> list[Function]:
    functions = []
    for r in plan.of_type("aws:lambda/function:Function"):
        arn = str(r.outputs["arn"])
        functions.append(
            Function(
                logical=r.name,
                name=str(r.outputs["name"]),
                arn=arn,
                handler=str(r.inputs.get("handler", "")),
                role_arn=str(r.inputs["role"]),
                region=arn_region(arn),
                component=component_name(plan, r),
                environment=dict((r.inputs.get("environment") or {}).get("variables") or {}),
                inputs=r.inputs,
            )
        )
    return functions


def _keys(plan: PlanGraph) -> tuple[dict[str, dict[str, Any]], dict[str, str]]:
    keys: dict[str, dict[str, Any]] = {}
    refs: dict[str, str] = {}
    for k in plan.of_type("aws:kms/key:Key") + plan.of_type("aws:kms/replicaKey:ReplicaKey"):
        arn = str(k.outputs["arn"])
        keys[arn] = _doc(k.inputs.get("policy") or {"Statement": []})
        refs[arn] = arn
        refs[str(k.outputs.get("keyId") or k.id)] = arn
    for alias in plan.of_type("aws:kms/alias:Alias"):
        target = refs.get(str(alias.inputs.get("targetKeyId")))
        if target:
            refs[str(alias.inputs["name"])] = target
            refs[str(alias.outputs["arn"])] = target
    return keys, refs


def _encrypted(plan: PlanGraph, refs: Mapping[str, str]) -> dict[str, str]:
    """Resource -> key ARN, from the property each resource type names its key with."""
    found: dict[str, str] = {}

    def add(resource_id: str, reference: Any) -> None:
        if isinstance(reference, str) and reference in refs:
            found[resource_id] = refs[reference]

    for t in plan.of_type("aws:dynamodb/table:Table"):
        add(str(t.outputs["arn"]), (t.inputs.get("serverSideEncryption") or {}).get("kmsKeyArn"))
        if t.outputs.get("streamArn"):
            add(str(t.outputs["streamArn"]), (t.inputs.get("serverSideEncryption") or {}).get("kmsKeyArn"))
    for q in plan.of_type("aws:sqs/queue:Queue"):
        add(str(q.outputs["arn"]), q.inputs.get("kmsMasterKeyId"))
    for topic in plan.of_type("aws:sns/topic:Topic"):
        add(str(topic.outputs["arn"]), topic.inputs.get("kmsMasterKeyId"))
    for s in plan.of_type("aws:kinesis/stream:Stream"):
        add(str(s.outputs["arn"]), s.inputs.get("kmsKeyId"))
    for bus in plan.of_type("aws:cloudwatch/eventBus:EventBus"):
        add(str(bus.outputs["arn"]), bus.inputs.get("kmsKeyIdentifier"))
    for sm in plan.of_type("aws:sfn/stateMachine:StateMachine"):
        add(str(sm.outputs["arn"]), (sm.inputs.get("encryptionConfiguration") or {}).get("kmsKeyId"))
    for group in plan.of_type("aws:cloudwatch/logGroup:LogGroup"):
        add(str(group.outputs["arn"]), group.inputs.get("kmsKeyId"))
    for p in plan.of_type("aws:ssm/parameter:Parameter"):
        if p.inputs.get("type") == "SecureString":
            add(_parameter_arn(p), p.inputs.get("keyId") or "alias/aws/ssm")
    for sse in plan.of_type(
        "aws:s3/bucketServerSideEncryptionConfiguration:BucketServerSideEncryptionConfiguration"
    ) + plan.of_type("aws:s3/bucketServerSideEncryptionConfigurationV2:BucketServerSideEncryptionConfigurationV2"):
        for rule in sse.inputs.get("rules") or []:
            default = rule.get("applyServerSideEncryptionByDefault") or {}
            if default.get("sseAlgorithm") in ("aws:kms", "aws:kms:dsse"):
                add(f"arn:aws:s3:::{sse.inputs['bucket']}", default.get("kmsMasterKeyId"))
    return found


def _parameter_arn(parameter: RecordedResource) -> str:
    region = arn_region(str(parameter.outputs.get("arn") or "arn:aws:ssm:us-east-1::"))
    return f"arn:aws:ssm:{region}:{ACCOUNT_ID}:parameter/{str(parameter.inputs['name']).lstrip('/')}"


def permission_model(plan: PlanGraph) -> PermissionModel:
    keys, refs = _keys(plan)
    return PermissionModel(plan, _roles(plan), _functions(plan), keys, refs, _encrypted(plan, refs))
