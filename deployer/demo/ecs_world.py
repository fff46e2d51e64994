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


def create_ecs_world(endpoint: str, region: str = "us-east-1", name: str = "shop",
                     alarms: tuple[str, ...] = ("shop-5xx",), desired: int = 2,
                     controller: str = "ECS") -> EcsWorld:
    ec2 = client("ec2", endpoint, region)
    vpc = ec2.create_vpc(CidrBlock="10.0.0.0/16")["Vpc"]["VpcId"]
    subnets = [ec2.create_subnet(VpcId=vpc, CidrBlock=f"10.0.{i}.0/24",
                                 AvailabilityZone=f"{region}{zone}")["Subnet"]["SubnetId"]
               for i, zone in enumerate("ab")]
    group = ec2.create_security_group(GroupName=f"{name}-sg", Description="demo",
                                      VpcId=vpc)["GroupId"]
    elbv2 = client("elbv2", endpoint, region)
    balancer = elbv2.create_load_balancer(Name=f"{name}-alb", Subnets=subnets,
                                          SecurityGroups=[group])["LoadBalancers"][0][
        "LoadBalancerArn"]
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
            "portMappings": [{"containerPort": 8080}],
            "environment": [{"name": "MODE", "value": "production"}],
            "secrets": [{"name": "DB_PASSWORD",
                         "valueFrom": f"arn:aws:ssm:{region}:123456789012:parameter/db"}],
            "logConfiguration": {"logDriver": "awslogs", "options": {
                "awslogs-group": f"/ecs/{name}", "awslogs-region": region,
                "awslogs-stream-prefix": "app"}}}],
        tags=[{"key": "team", "value": "shop"}])["taskDefinition"]["taskDefinitionArn"]
    network = {"awsvpcConfiguration": {"subnets": subnets, "securityGroups": [group]}}
    services = {}
    for colour in ("blue", "green"):
        services[colour] = ecs.create_service(
            cluster=name, serviceName=f"{name}-{colour}", taskDefinition=task,
            desiredCount=desired if colour == "blue" else 0, launchType="FARGATE",
            networkConfiguration=network, deploymentController={"type": controller},
            loadBalancers=[{"targetGroupArn": groups[colour], "containerName": "app",
                            "containerPort": 8080}])["service"]["serviceName"]
    cloudwatch = client("cloudwatch", endpoint, region)
    for alarm in alarms:
        cloudwatch.put_metric_alarm(
            AlarmName=alarm, Namespace="AWS/ApplicationELB",
            MetricName="HTTPCode_Target_5XX_Count", Statistic="Sum", Period=60,
            EvaluationPeriods=1, Threshold=5, ComparisonOperator="GreaterThanThreshold")
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="initial")
    return EcsWorld(endpoint, region, name, services["blue"], services["green"],
                    groups["blue"], groups["green"], listener, test_listener, rule, task,
                    alarms)
