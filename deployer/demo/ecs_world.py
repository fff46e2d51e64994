"""An ECS/Fargate blue/green world on any endpoint: a VPC, an ALB with a production and
a test listener, two target groups (IP targets registered, so health checks pass on a
local AWS), a cluster, a task definition and two services (blue live, green idle)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer.demo.world import client


@dataclass(frozen=True, slots=True)
class EcsWorld:
    endpoint: str
    region: str
    cluster: str
    blue: str
    green: str
    blue_group: str
    green_group: str
    listener: str
    test_listener: str
    rule: str
    task_definition: str
    alarms: tuple[str, ...]
    service_name: str = ""       # the one-service layout (task sets): its service

    def task_sets(self) -> list[dict[str, Any]]:
        """The one service's task sets: id, status, task definition, target group."""
        ecs = client("ecs", self.endpoint, self.region)
        found = ecs.describe_task_sets(cluster=self.cluster, service=self.service_name)
        names = {self.blue_group: "blue", self.green_group: "green"}
        return [{"id": t["id"], "arn": t["taskSetArn"], "status": t["status"],
                 "task_definition": t["taskDefinition"],
                 "colour": names.get(t["loadBalancers"][0]["targetGroupArn"], "?")}
                for t in found["taskSets"]]

    def weights(self, arn: str | None = None) -> dict[str, int]:
        """Colour -> weight in the forward action of the listener (or rule) `arn`."""
        elbv2 = client("elbv2", self.endpoint, self.region)
        arn = arn or self.listener
        if ":listener-rule/" in arn:
            actions = elbv2.describe_rules(RuleArns=[arn])["Rules"][0]["Actions"]
        else:
            actions = elbv2.describe_listeners(ListenerArns=[arn])["Listeners"][0][
                "DefaultActions"]
        forward = next(a for a in actions if a["Type"] == "forward")
        names = {self.blue_group: "blue", self.green_group: "green"}
        groups = forward.get("ForwardConfig", {}).get("TargetGroups") or [
            {"TargetGroupArn": forward["TargetGroupArn"], "Weight": 1}]
        return {names.get(g["TargetGroupArn"], g["TargetGroupArn"]): g.get("Weight", 1)
                for g in groups}

    def service(self, colour: str) -> dict[str, Any]:
        ecs = client("ecs", self.endpoint, self.region)
        name = self.blue if colour == "blue" else self.green
        return dict(ecs.describe_services(cluster=self.cluster, services=[name])["services"][0])

    def set_alarm(self, name: str, state: str) -> None:
        client("cloudwatch", self.endpoint, self.region).set_alarm_state(
            AlarmName=name, StateValue=state, StateReason="set by the demo/test")


def balanced_vpc(endpoint: str, region: str, name: str, prefix: str
                 ) -> tuple[str, list[str], str, str]:
    """A VPC (`prefix`.0.0/16), two subnets in two zones, a security group and an ALB
    in them: the VPC id, the subnet ids, the security group id, the balancer's ARN."""
    ec2 = client("ec2", endpoint, region)
    vpc = ec2.create_vpc(CidrBlock=f"{prefix}.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"{prefix}.{i}.0/24",
                                 AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
               for i, zone in enumerate("ab")]
    security = ec2.create_security_group(GroupName=f"{name}-sg", Description="demo",
                                         VpcId=vpc)["GroupId"]
    balancer = client("elbv2", endpoint, region).create_load_balancer(
        Name=f"{name}-alb", Subnets=subnets, SecurityGroups=[security])["LoadBalancers"][0][
        "LoadBalancerArn"]
    return vpc, subnets, security, balancer


def create_ecs_world(endpoint: str, region: str = "us-east-1", name: str = "shop",
                     alarms: tuple[str, ...] = ("shop-5xx",), desired: int = 2,
                     controller: str | None = None, task_sets: bool = False) -> EcsWorld:
    """Two services (blue live, green idle), or with `task_sets` one service on the
    EXTERNAL controller (or `controller`) whose PRIMARY task set serves blue."""
    vpc, subnets, group, balancer = balanced_vpc(endpoint, region, name, "10.0")
    elbv2 = client("elbv2", endpoint, region)
    groups = {}
    for colour in ("blue", "green"):
        arn = elbv2.create_target_group(Name=f"{name}-{colour}", Protocol="HTTP", Port=8080,
                                        VpcId=vpc, TargetType="ip")["TargetGroups"][0][
            "TargetGroupArn"]
        elbv2.register_targets(TargetGroupArn=arn, Targets=[
            {"Id": f"10.0.0.{10 + i + (0 if colour == 'blue' else 10)}", "Port": 8080}
            for i in range(desired)])
        groups[colour] = arn

    def forward(live: str) -> list[dict[str, Any]]:
        return [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
            {"TargetGroupArn": groups["blue"], "Weight": 100 if live == "blue" else 0},
            {"TargetGroupArn": groups["green"], "Weight": 100 if live == "green" else 0}],
            "TargetGroupStickinessConfig": {"Enabled": False}}}]

    listener = elbv2.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80,
                                     DefaultActions=forward("blue"))["Listeners"][0][
        "ListenerArn"]
    test_listener = elbv2.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=8443,
                                          DefaultActions=forward("blue"))["Listeners"][0][
        "ListenerArn"]
    rule = elbv2.create_rule(ListenerArn=listener, Priority=10, Actions=forward("blue"),
                             Conditions=[{"Field": "path-pattern", "Values": ["/api/*"]}])[
        "Rules"][0]["RuleArn"]
    ecs = client("ecs", endpoint, region)
    ecs.create_cluster(clusterName=name)
    task = ecs.register_task_definition(
        family=name, networkMode="awsvpc", requiresCompatibilities=["FARGATE"], cpu="256",
        memory="512", executionRoleArn=f"arn:aws:iam::123456789012:role/{name}-exec",
        containerDefinitions=[{
            "name": "app", "image": f"registry.example/{name}:1", "essential": True,
            "memory": 512,  # moto: create_task_set runs tasks and needs a container memory
            "portMappings": [{"containerPort": 8080}],
            "environment": [{"name": "MODE", "value": "production"}],
            "secrets": [{"name": "DB_PASSWORD",
                         "valueFrom": f"arn:aws:ssm:{region}:123456789012:parameter/db"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": f"/ecs/{name}", "awslogs-region": region,
                "awslogs-stream-prefix": "app"}}}],
        tags=[{"key": "team", "value": "shop"}])["taskDefinition"]["taskDefinitionArn"]
    network = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}}
    if task_sets:
        world = _one_service(endpoint, region, name, desired, network, groups, task,
                             controller or "EXTERNAL")
        _alarms(endpoint, region, alarms)
        return EcsWorld(endpoint, region, name, name, name, groups["blue"], groups["green"],
                        listener, test_listener, rule, task, alarms, service_name=world)
    services = {}
    for colour in ("blue", "green"):
        services[colour] = ecs.create_service(
            cluster=name, serviceName=f"{name}-{colour}", taskDefinition=task,
            desiredCount=desired if colour == "blue" else 0, launchType="FARGATE",
            networkConfiguration=network, deploymentController={"type": controller or "ECS"},
            loadBalancers=[{"targetGroupArn": groups[colour], "containerName": "app",
                            "containerPort": 8080}])["service"]["serviceName"]
    _alarms(endpoint, region, alarms)
    return EcsWorld(endpoint, region, name, services["blue"], services["green"],
                    groups["blue"], groups["green"], listener, test_listener, rule, task,
                    alarms)


def _one_service(endpoint: str, region: str, name: str, desired: int,
                 network: dict[str, Any], groups: dict[str, str], task: str,
                 controller: str) -> str:
    ecs = client("ecs", endpoint, region)
    ecs.create_service(cluster=name, serviceName=name, desiredCount=desired,
                       deploymentController={"type": controller})
    if controller == "EXTERNAL":
        first = ecs.create_task_set(
            cluster=name, service=name, taskDefinition=task, launchType="FARGATE",
            networkConfiguration=network, scale={"value": 100, "unit": "PERCENT"},
            loadBalancers=[{"targetGroupArn": groups["blue"], "containerName": "app",
                            "containerPort": 8080}])["taskSet"]
        ecs.update_service_primary_task_set(cluster=name, service=name,
                                            primaryTaskSet=first["taskSetArn"])
    return name


def _alarms(endpoint: str, region: str, alarms: tuple[str, ...]) -> None:
    cloudwatch = client("cloudwatch", endpoint, region)
    for alarm in alarms:
        cloudwatch.put_metric_alarm(
            AlarmName=alarm, Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold")
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="initial")
