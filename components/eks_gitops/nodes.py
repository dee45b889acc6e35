"""The managed node group: a generated name (an instance-type change replaces it without a name clash),
the cluster's Kubernetes version, encrypted gp3 root volumes, IMDSv2, and Spot capacity where configured."""

from __future__ import annotations

from collections.abc import Sequence

import pulumi
import pulumi_aws as aws
import pulumi_eks as eks

from components.context import default_tags
from components.eks_gitops.args import EksGitOpsArgs
from components.scope import Scope

ROOT_DEVICE = "/dev/xvda"  # root volume of the EKS-optimised Amazon Linux 2023 AMI


def instance_types(args: EksGitOpsArgs) -> list[str]:
    """On-demand nodes use the configured type; Spot also draws from the extra types (more capacity pools)."""
    extra = [t for t in args.spot_instance_types if t != args.node_instance_type]
    return [args.node_instance_type, *extra] if args.node_capacity_type == "SPOT" else [args.node_instance_type]


def launch_template(scope: Scope, args: EksGitOpsArgs) -> aws.ec2.LaunchTemplate:
    tags = {**default_tags(scope.ctx.config), "Name": scope.physical("node")}
    return aws.ec2.LaunchTemplate(
        scope.child("node-template"),
        name=scope.physical("node"),
        description="EKS nodes: encrypted gp3 root volume, IMDSv2 only",
        block_device_mappings=[
            aws.ec2.LaunchTemplateBlockDeviceMappingArgs(
                device_name=ROOT_DEVICE,
                ebs=aws.ec2.LaunchTemplateBlockDeviceMappingEbsArgs(
                    volume_size=args.node_disk_size_gib,
                    volume_type="gp3",
                    # The EBS default key: a customer key would also need the account's Auto Scaling
                    # service-linked role in its key policy before the first node group exists.
                    encrypted="true",
                    delete_on_termination="true",
                ),
            )
        ],
        metadata_options=aws.ec2.LaunchTemplateMetadataOptionsArgs(
            http_endpoint="enabled",
            http_tokens="required",
            # Pods get AWS access through IRSA / Pod Identity only, never through the node role.
            http_put_response_hop_limit=1,
        ),
        tag_specifications=[
            aws.ec2.LaunchTemplateTagSpecificationArgs(resource_type=kind, tags=tags)
            for kind in ("instance", "volume", "network-interface")
        ],
        opts=scope.opts(),
    )


def managed_node_group(
    scope: Scope,
    args: EksGitOpsArgs,
    *,
    cluster: eks.Cluster,
    node_role: aws.iam.Role,
    subnet_ids: list[pulumi.Output[str]],
    depends_on: Sequence[pulumi.Resource] = (),
) -> eks.ManagedNodeGroup:
    """`depends_on`: what nodes need to join (private egress routes, the node add-ons)."""
    template = launch_template(scope, args)
    return eks.ManagedNodeGroup(
        scope.child("workers"),
        cluster=cluster,
        # A prefix, not a name: changing the instance types replaces the group (create before delete), and a
        # fixed name would make the new group collide with the old one ("NodeGroup already exists").
        node_group_name_prefix=f"{scope.physical('workers')}-",
        # Upgrading kubernetesVersion rolls the nodes to the same version after the control plane.
        version=args.kubernetes_version,
        node_role=node_role,
        subnet_ids=subnet_ids,
        instance_types=instance_types(args),
        capacity_type=args.node_capacity_type,
        operating_system=eks.OperatingSystem.AL2023,
        scaling_config=aws.eks.NodeGroupScalingConfigArgs(
            min_size=args.node_min_size, desired_size=args.node_desired_size, max_size=args.node_max_size
        ),
        launch_template=aws.eks.NodeGroupLaunchTemplateArgs(id=template.id, version=template.latest_version.apply(str)),
        labels={"workload": "general", "capacity": args.node_capacity_type.lower().replace("_", "-")},
        # pulumi-eks is a multi-language component: it takes the AWS provider by package name.
        opts=scope.opts(providers={"aws": scope.provider or scope.ctx.primary}, depends_on=list(depends_on)),
    )
