"""Worlds for the two newer kinds of traffic (SPEC §15) on any endpoint: EC2 Auto
Scaling blue/green behind an ALB (a launch template with two versions, two groups,
each attached to its own instance target group; blue live), and a Route 53 hosted
zone with two weighted records of one name (blue with all the weight)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from deployer.demo.ecs_world import balanced_vpc
from deployer.demo.world import client


@dataclass(frozen=True, slots=True)
class AsgWorld:
    endpoint: str
    region: str
    blue: str
    green: str
    blue_group: str
    green_group: str
    listener: str
    test_listener: str
    template: str
    alarms: tuple[str, ...]

    def weights(self) -> dict[str, int]:
        """Colour -> weight in the production listener's forward action."""
        elbv2 = client("elbv2", self.endpoint, self.region)
        actions = elbv2.describe_listeners(ListenerArns=[self.listener])["Listeners"][0][
            "DefaultActions"]
        forward = next(a for a in actions if a["Type"] == "forward")
        names = {self.blue_group: "blue", self.green_group: "green"}
        return {names.get(g["TargetGroupArn"], g["TargetGroupArn"]): g.get("Weight", 1)
                for g in forward["ForwardConfig"]["TargetGroups"]}

    def group(self, colour: str) -> dict[str, Any]:
        autoscaling = client("autoscaling", self.endpoint, self.region)
        name = self.blue if colour == "blue" else self.green
        return dict(autoscaling.describe_auto_scaling_groups(
            AutoScalingGroupNames=[name])["AutoScalingGroups"][0])

    def capacity(self, colour: str) -> int:
        return int(self.group(colour)["DesiredCapacity"])

    def set_alarm(self, name: str, state: str) -> None:
        client("cloudwatch", self.endpoint, self.region).set_alarm_state(
            AlarmName=name, StateValue=state, StateReason="set by the demo/test")


def create_asg_world(endpoint: str, region: str = "us-east-1", name: str = "web",
                     alarms: tuple[str, ...] = ("web-5xx",), desired: int = 2) -> AsgWorld:
    vpc, subnets, _, balancer = balanced_vpc(endpoint, region, name, "10.1")
    ec2, elbv2 = client("ec2", endpoint, region), client("elbv2", endpoint, region)
    groups = {colour: elbv2.create_target_group(
        Name=f"{name}-{colour}", Protocol="HTTP", Port=80, VpcId=vpc,
        TargetType="instance")["TargetGroups"][0]["TargetGroupArn"]
        for colour in ("blue", "green")}
    forward = [{"Type": "forward", "ForwardConfig": {"TargetGroups": [
        {"TargetGroupArn": groups["blue"], "Weight": 100},
        {"TargetGroupArn": groups["green"], "Weight": 0}]}}]
    listener = elbv2.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=80,
                                     DefaultActions=forward)["Listeners"][0]["ListenerArn"]
    test_listener = elbv2.create_listener(LoadBalancerArn=balancer, Protocol="HTTP", Port=8080,
                                          DefaultActions=forward)["Listeners"][0][
        "ListenerArn"]
    image = ec2.describe_images()["Images"][0]["ImageId"]
    template = f"{name}-lt"
    ec2.create_launch_template(LaunchTemplateName=template, LaunchTemplateData={
        "ImageId": image, "InstanceType": "t3.micro"})
    ec2.create_launch_template_version(LaunchTemplateName=template, SourceVersion="1",
                                       LaunchTemplateData={"ImageId": image,
                                                           "InstanceType": "t3.small"})
    autoscaling = client("autoscaling", endpoint, region)
    names = {"blue": f"{name}-blue", "green": f"{name}-green"}
    for colour, size in (("blue", desired), ("green", 0)):
        autoscaling.create_auto_scaling_group(
            AutoScalingGroupName=names[colour], MinSize=size, MaxSize=max(4, desired * 2),
            DesiredCapacity=size, VPCZoneIdentifier=",".join(subnets),
            LaunchTemplate={"LaunchTemplateName": template, "Version": "1"},
            TargetGroupARNs=[groups[colour]])
    cloudwatch = client("cloudwatch", endpoint, region)
    for alarm in alarms:
        cloudwatch.put_metric_alarm(
            AlarmName=alarm, Namespace="AWS/ApplicationELB", MetricName="HTTPCode_Target_5XX_Count",
            Statistic="Sum", Period=60, EvaluationPeriods=1, Threshold=5,
            ComparisonOperator="GreaterThanThreshold")
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="initial")
    return AsgWorld(endpoint, region, names["blue"], names["green"], groups["blue"],
                    groups["green"], listener, test_listener, template, alarms)


@dataclass(frozen=True, slots=True)
class Route53World:
    endpoint: str
    region: str
    zone: str
    name: str
    blue: str
    green: str
    alarms: tuple[str, ...]

    def weights(self) -> dict[str, int]:
        """SetIdentifier -> weight, as Route 53 reads back."""
        route53 = client("route53", self.endpoint, self.region)
        found = route53.list_resource_record_sets(HostedZoneId=self.zone)["ResourceRecordSets"]
        return {r["SetIdentifier"]: r["Weight"] for r in found
                if r["Name"] == self.name and "SetIdentifier" in r}

    def set_alarm(self, name: str, state: str) -> None:
        client("cloudwatch", self.endpoint, self.region).set_alarm_state(
            AlarmName=name, StateValue=state, StateReason="set by the demo/test")


def create_route53_world(endpoint: str, region: str = "us-east-1", domain: str = "example.com",
                         label: str = "api", alarms: tuple[str, ...] = ("api-5xx",),
                         ttl: int = 60) -> Route53World:
    route53 = client("route53", endpoint, region)
    zone = route53.create_hosted_zone(Name=domain, CallerReference=f"deployer-{label}-{domain}")[
        "HostedZone"]["Id"].rsplit("/", 1)[-1]
    name = f"{label}.{domain}."
    changes = [{"Action": "CREATE", "ResourceRecordSet": {
        "Name": name, "Type": "A", "SetIdentifier": f"{label}-{colour}", "Weight": weight,
        "TTL": ttl, "ResourceRecords": [{"Value": address}]}}
        for colour, weight, address in (("blue", 100, "192.0.2.10"),
                                        ("green", 0, "192.0.2.20"))]
    route53.change_resource_record_sets(HostedZoneId=zone, ChangeBatch={"Changes": changes})
    cloudwatch = client("cloudwatch", endpoint, region)
    for alarm in alarms:
        cloudwatch.put_metric_alarm(
            AlarmName=alarm, Namespace="App", MetricName="Errors", Statistic="Sum",
            Period=60, EvaluationPeriods=1, Threshold=5,
            ComparisonOperator="GreaterThanThreshold")
        cloudwatch.set_alarm_state(AlarmName=alarm, StateValue="OK", StateReason="initial")
    return Route53World(endpoint, region, zone, name, f"{label}-blue", f"{label}-green", alarms)
