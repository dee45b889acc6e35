"""The cluster VPC: 3 AZs, public subnets for load balancers, private subnets for nodes, NAT per config."""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

import pulumi
import pulumi_aws as aws

from components.scope import Scope

AZ_COUNT = 3


@dataclass(frozen=True)
class SubnetPlan:
    """CIDRs of one AZ: a large private subnet (pods take VPC IPs) and a small public one (load balancers)."""

    private: str
    public: str


def plan_subnets(vpc_cidr: str, az_count: int = AZ_COUNT) -> list[SubnetPlan]:
    """Split the VPC: private subnets are quarters, public subnets sixteenths taken from the last quarter."""
    network = ipaddress.ip_network(vpc_cidr)
    if network.prefixlen > 20:
        raise ValueError(f"eks.vpcCidr {vpc_cidr}: need a /20 or larger to hold 3 private and 3 public subnets")
    quarters = list(network.subnets(prefixlen_diff=2))
    publics = list(quarters[-1].subnets(prefixlen_diff=2))
    return [SubnetPlan(private=str(quarters[i]), public=str(publics[i])) for i in range(az_count)]


@dataclass(frozen=True)
class ClusterNetwork:
    vpc: aws.ec2.Vpc
    public_subnets: list[aws.ec2.Subnet]
    private_subnets: list[aws.ec2.Subnet]
    nat_gateways: list[aws.ec2.NatGateway]
    # Private routes through NAT: nodes can only join the cluster (pull images, reach EKS) once these exist.
    private_egress: list[pulumi.Resource]

    @property
    def public_subnet_ids(self) -> list[pulumi.Output[str]]:
        return [s.id for s in self.public_subnets]

    @property
    def private_subnet_ids(self) -> list[pulumi.Output[str]]:
        return [s.id for s in self.private_subnets]


def build_network(scope: Scope, cluster_name: str, vpc_cidr: str, nat_per_az: bool) -> ClusterNetwork:
    """VPC, subnets with the ELB / karpenter discovery tags, internet gateway, NAT gateway(s) and routes."""
    child = scope.opts()
    zones = aws.get_availability_zones_output(state="available", opts=pulumi.InvokeOptions(parent=scope.parent))
    cluster_tag = {f"kubernetes.io/cluster/{cluster_name}": "shared"}
    vpc = aws.ec2.Vpc(
        scope.child("vpc"),
        cidr_block=vpc_cidr,
        enable_dns_hostnames=True,
        enable_dns_support=True,
        tags={"Name": scope.physical("vpc")},
        opts=child,
    )
    igw = aws.ec2.InternetGateway(scope.child("igw"), vpc_id=vpc.id, tags={"Name": scope.physical("igw")}, opts=child)
    public_routes = aws.ec2.RouteTable(
        scope.child("public-rt"),
        vpc_id=vpc.id,
        routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", gateway_id=igw.id)],
        tags={"Name": scope.physical("public")},
        opts=child,
    )
    public_subnets: list[aws.ec2.Subnet] = []
    private_subnets: list[aws.ec2.Subnet] = []
    for index, cidrs in enumerate(plan_subnets(vpc_cidr)):
        zone = zones.names.apply(lambda names, i=index: names[i])
        public = aws.ec2.Subnet(
            scope.child(f"public-{index}"),
            vpc_id=vpc.id,
            cidr_block=cidrs.public,
            availability_zone=zone,
            # Only load balancers and NAT gateways live here and get their addresses from their service.
            map_public_ip_on_launch=False,
            tags={**cluster_tag, "Name": scope.physical(f"public-{index}"), "kubernetes.io/role/elb": "1"},
            opts=child,
        )
        private = aws.ec2.Subnet(
            scope.child(f"private-{index}"),
            vpc_id=vpc.id,
            cidr_block=cidrs.private,
            availability_zone=zone,
            tags={
                **cluster_tag,
                "Name": scope.physical(f"private-{index}"),
                "kubernetes.io/role/internal-elb": "1",
                "karpenter.sh/discovery": cluster_name,
            },
            opts=child,
        )
        aws.ec2.RouteTableAssociation(
            scope.child(f"public-{index}"), subnet_id=public.id, route_table_id=public_routes.id, opts=child
        )
        public_subnets.append(public)
        private_subnets.append(private)

    nat_count = AZ_COUNT if nat_per_az else 1
    nat_gateways = []
    for index in range(nat_count):
        address = aws.ec2.Eip(
            scope.child(f"nat-{index}"), domain="vpc", tags={"Name": scope.physical(f"nat-{index}")}, opts=child
        )
        nat_gateways.append(
            aws.ec2.NatGateway(
                scope.child(f"nat-{index}"),
                allocation_id=address.allocation_id,
                subnet_id=public_subnets[index].id,
                tags={"Name": scope.physical(f"nat-{index}")},
                opts=scope.opts(depends_on=[igw]),
            )
        )
    private_egress: list[pulumi.Resource] = []
    for index, private in enumerate(private_subnets):
        # With a single NAT every AZ egresses through AZ 0; per-AZ NAT keeps an AZ outage local.
        nat = nat_gateways[index if nat_per_az else 0]
        routes = aws.ec2.RouteTable(
            scope.child(f"private-rt-{index}"),
            vpc_id=vpc.id,
            routes=[aws.ec2.RouteTableRouteArgs(cidr_block="0.0.0.0/0", nat_gateway_id=nat.id)],
            tags={"Name": scope.physical(f"private-{index}")},
            opts=child,
        )
        association = aws.ec2.RouteTableAssociation(
            scope.child(f"private-{index}"), subnet_id=private.id, route_table_id=routes.id, opts=child
        )
        private_egress += [routes, association]
    return ClusterNetwork(vpc, public_subnets, private_subnets, nat_gateways, private_egress)
