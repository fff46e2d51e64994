"""The release plan (SPEC §2) as immutable pydantic models — the YAML boundary.

Everything past this boundary reads a frozen `ReleasePlan`; the strategy is
compiled to plain frozen Step dataclasses by `deployer.plan.compile`. Rules that
span fields ("exactly one of", weights that never decrease) raise
`PydanticCustomError` whose context may carry `at`, a path below the model,
so the error points at the offending line rather than the whole block.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, ClassVar, Literal, Self

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    GetJsonSchemaHandler,
    ModelWrapValidatorHandler,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import ErrorDetails, InitErrorDetails, PydanticCustomError, core_schema

from deployer.plan import windows
from deployer.plan.durations import format_duration
from deployer.plan.types import (
    AlarmName,
    AliasName,
    Argv,
    AutoScalingGroupName,
    CalendarName,
    DnsName,
    Duration,
    ExternalId,
    HostedZoneId,
    HttpUrl,
    LambdaFunction,
    LambdaVersion,
    LaunchTemplateId,
    LaunchTemplateVersion,
    ListenerArn,
    Percent,
    PlanName,
    PollInterval,
    Ratio,
    Region,
    RoleArn,
    RuleArn,
    SetIdentifier,
    TopicArn,
    Weight,
)
from strategies.presets import canonical_preset_name
from strategies.steps import OnTimeout


class Spec(BaseModel):
    """Base of every plan block: unknown keys are errors, values are immutable.

    `one_of` lists groups of keys of which exactly one must be written. It is
    checked on the raw mapping, before and beside field validation, so that
    "has listener and rule" is reported together with every other problem of
    the block; the JSON Schema gets the same rule as `oneOf` / `required`.
    """

    # coerce_numbers_to_str: `alias: 42` or `task_definition: 17` unquoted are still strings.
    # defer_build: blocks are validated only as part of the whole plan, so building a
    # validator per block at import would be wasted start-up time.
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True,
                              coerce_numbers_to_str=True, defer_build=True)
    one_of: ClassVar[tuple[tuple[str, ...], ...]] = ()

    @model_validator(mode="wrap")
    @classmethod
    def _exactly_one_of(cls, data: Any, handler: ModelWrapValidatorHandler[Self]) -> Self:
        if isinstance(data, dict) and cls.one_of:
            # `all_at_once:` or `- approve:` with nothing after them mean "the defaults";
            # any other bare key must not slip through as "not given".
            chosen = {name for group in cls.one_of for name in group}
            data = {k: ({} if k in chosen and v is None else v) for k, v in data.items()}
        found = [_one_of_problem(g, data) for g in cls.one_of] if isinstance(data, dict) else []
        problems = [p for p in found if p]
        if not problems:
            return handler(data)
        details = [InitErrorDetails(type=PydanticCustomError("one_of", p), loc=(), input=data)
                   for p in problems]
        try:
            handler(data)
        except ValidationError as exc:
            details += [_carried(error) for error in exc.errors()]
        raise ValidationError.from_exception_data(cls.__name__, details)

    @classmethod
    def __get_pydantic_json_schema__(
        cls, schema: core_schema.CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        json_schema = handler(schema)
        if cls.one_of:
            target = handler.resolve_ref_schema(json_schema)
            target["allOf"] = [{"oneOf": [{"required": [name]} for name in group]}
                               for group in cls.one_of]
        return json_schema


def _one_of_problem(group: tuple[str, ...], data: dict[str, Any]) -> str | None:
    given = [name for name in group if name in data and data[name] is not False]
    if len(given) == 1:
        return None
    if not given:
        return f"needs exactly one of: {', '.join(group)}"
    return f"has {' and '.join(given)}; keep exactly one of: {', '.join(group)}"


def _carried(error: ErrorDetails) -> InitErrorDetails:
    """Re-raise a field error from inside a wrap validator without losing its type or context."""
    kind = PydanticCustomError(error["type"], error["msg"], error.get("ctx"))
    return InitErrorDetails(type=kind, loc=error["loc"], input=error["input"])


def _rule(message: str, *at: str | int) -> PydanticCustomError:
    return PydanticCustomError("plan_rule", message, {"at": at})


# ---------------------------------------------------------------- target

class LambdaCode(Spec):
    one_of = (("s3_bucket", "image_uri"),)
    s3_bucket: str | None = None
    s3_key: str | None = None
    s3_object_version: str | None = None
    image_uri: str | None = None

    @model_validator(mode="after")
    def _one_source(self) -> Self:
        if self.s3_bucket is not None and not self.s3_key:
            raise _rule("s3_bucket needs s3_key", "s3_key")
        if self.image_uri is not None and (self.s3_key or self.s3_object_version):
            raise _rule("image_uri cannot be combined with s3_key / s3_object_version")
        return self


class LambdaTarget(Spec):
    one_of = (("version", "publish", "code"),)
    function: LambdaFunction
    alias: AliasName
    version: LambdaVersion | None = None
    publish: bool = False
    code: LambdaCode | None = None
    provisioned_concurrency: Literal["none", "match"] | Annotated[int, Field(ge=1)] = "none"

    @field_validator("provisioned_concurrency", mode="before")
    @classmethod
    def _pc(cls, value: Any) -> Any:
        if value in ("none", "match") or (isinstance(value, int) and not isinstance(value, bool)):
            return value
        raise PydanticCustomError("pc", "must be none, match or a positive integer")


class EcsServices(Spec):
    blue: Annotated[str, Field(min_length=1)]
    green: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.blue == self.green:
            raise _rule("blue and green must be two different services", "green")
        return self


class ContainerImage(Spec):
    container: Annotated[str, Field(min_length=1)]
    uri: Annotated[str, Field(min_length=1)]


class TargetGroups(Spec):
    """The two target groups of a one-service layout (SPEC §9): ARNs or names."""

    blue: Annotated[str, Field(min_length=1)]
    green: Annotated[str, Field(min_length=1)]

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.blue == self.green:
            raise _rule("blue and green must be two different target groups", "green")
        return self


class AlbRoutes(Spec):
    """The listener (or rule) whose forward action weighs two target groups, and an
    optional test listener (or rule): ECS and Auto Scaling blue/green."""

    listener: ListenerArn | None = None
    rule: RuleArn | None = None
    test_listener: ListenerArn | None = None
    test_rule: RuleArn | None = None

    @model_validator(mode="after")
    def _distinct_listeners(self) -> Self:
        if self.test_listener is not None and self.test_rule is not None:
            raise _rule("has test_listener and test_rule; keep at most one of them",
                        "test_rule")
        production = self.listener or self.rule
        for name in ("test_listener", "test_rule"):
            if getattr(self, name) is not None and getattr(self, name) == production:
                raise _rule(f"the {name.replace('_', ' ')} must differ from the production "
                            f"{'listener' if self.listener else 'rule'}", name)
        return self

    @property
    def route(self) -> str:
        """The production listener or rule."""
        route = self.listener or self.rule
        assert route is not None  # one_of
        return route

    @property
    def test_route(self) -> str | None:
        """The listener or rule that carries test traffic, if any."""
        return self.test_listener or self.test_rule


class EcsTarget(AlbRoutes):
    one_of = (("services", "service"), ("listener", "rule"), ("task_definition", "image"))
    cluster: Annotated[str, Field(min_length=1)]
    services: EcsServices | None = None
    service: Annotated[str, Field(min_length=1)] | None = None
    target_groups: TargetGroups | None = None
    task_definition: Annotated[str, Field(min_length=1)] | None = None
    image: ContainerImage | None = None
    healthy_within: Duration = 600.0

    @model_validator(mode="after")
    def _groups_with_one_service(self) -> Self:
        if self.service is not None and self.target_groups is None:
            raise _rule("a one-service plan (service:) needs target_groups: {blue, green}",
                        "service")
        if self.services is not None and self.target_groups is not None:
            raise _rule("target_groups go with service: (one EXTERNAL service); two "
                        "services each bring their own group", "target_groups")
        return self


class AsgGroups(Spec):
    """The two Auto Scaling groups, each attached to its own target group."""

    blue: AutoScalingGroupName
    green: AutoScalingGroupName

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.blue == self.green:
            raise _rule("blue and green must be two different Auto Scaling groups", "green")
        return self


class LaunchTemplateRef(Spec):
    """The launch template version the idle group gets: by name or id."""

    one_of = (("name", "id"),)
    name: Annotated[str, Field(min_length=3, max_length=128)] | None = None
    id: LaunchTemplateId | None = None
    version: LaunchTemplateVersion


class AsgTarget(AlbRoutes):
    """EC2 Auto Scaling blue/green behind an ALB (SPEC §15)."""

    one_of = (("listener", "rule"),)
    groups: AsgGroups
    launch_template: LaunchTemplateRef
    healthy_within: Duration = 900.0


class Route53Records(Spec):
    """The SetIdentifiers of the two weighted records of one name and type."""

    blue: SetIdentifier
    green: SetIdentifier

    @model_validator(mode="after")
    def _distinct(self) -> Self:
        if self.blue == self.green:
            raise _rule("blue and green must be two different records", "green")
        return self


class Route53Target(Spec):
    """Two weighted records of one name (SPEC §15): traffic is their weights."""

    zone: HostedZoneId
    name: DnsName
    type: Literal["A", "AAAA", "CNAME"]
    records: Route53Records


class TargetSpec(Spec):
    """One traffic resource, and where it lives (SPEC §13): its own region and, in
    another account, the role deployer assumes there (sts:AssumeRole, session name =
    the run id, `external_id` when the role's trust policy asks for one)."""

    one_of = (("lambda", "ecs", "asg", "route53"),)
    lambda_: LambdaTarget | None = Field(default=None, alias="lambda")
    ecs: EcsTarget | None = None
    asg: AsgTarget | None = None
    route53: Route53Target | None = None
    region: Region | None = None
    role_arn: RoleArn | None = None
    external_id: ExternalId | None = None

    @model_validator(mode="after")
    def _external_id_needs_a_role(self) -> Self:
        if self.external_id is not None and self.role_arn is None:
            raise _rule("external_id goes with role_arn (the role whose trust policy asks "
                        "for it)", "external_id")
        return self

    @property
    def account(self) -> str | None:
        """The account of the role to assume, if any."""
        return self.role_arn.split(":")[4] if self.role_arn else None

    @property
    def kind(self) -> str:
        return next(kind for kind, block in (("lambda", self.lambda_), ("ecs", self.ecs),
                                             ("asg", self.asg), ("route53", self.route53))
                    if block is not None)


class TargetEntry(TargetSpec):
    """One target of a whole application (SPEC §8): a target, and alarms of its own."""

    alarms: list[AlarmName] = Field(default_factory=list)


MAX_TARGETS = 100


# ---------------------------------------------------------------- strategy

class ApproveSpec(Spec):
    timeout: Duration = 3600.0
    on_timeout: OnTimeout = OnTimeout.ROLLBACK


class CanarySpec(Spec):
    weight: Annotated[Weight, Field(lt=100)]
    bake: Duration


class LinearSpec(Spec):
    step: Annotated[Weight, Field(lt=100)]
    every: Duration


class AllAtOnceSpec(Spec):
    pass


class BlueGreenSpec(Spec):
    preview: Annotated[Weight, Field(lt=100)] | None = None
    preview_for: Duration = 0.0
    approve: ApproveSpec | None = None

    @model_validator(mode="after")
    def _preview_pair(self) -> Self:
        if self.preview_for and self.preview is None:
            raise _rule("preview_for needs preview (the weight to preview at)", "preview_for")
        return self


class StepSpec(Spec):
    one_of = (("shift", "bake", "approve"),)
    shift: Weight | None = None
    bake: Duration | None = None
    approve: ApproveSpec | None = None


STRATEGY_KINDS = ("canary", "linear", "all_at_once", "blue_green", "preset", "steps")


class StrategySpec(Spec):
    one_of = (STRATEGY_KINDS,)
    canary: CanarySpec | None = None
    linear: LinearSpec | None = None
    all_at_once: AllAtOnceSpec | None = None
    blue_green: BlueGreenSpec | None = None
    preset: str | None = None
    steps: Annotated[list[StepSpec], Field(min_length=1)] | None = None

    @field_validator("preset")
    @classmethod
    def _known_preset(cls, value: str | None, info: ValidationInfo) -> str | None:
        if value is None:
            return None
        kind = (info.context or {}).get("target_kind")  # suggestions prefer this kind
        try:
            return canonical_preset_name(value, kind)
        except ValueError as exc:
            raise PydanticCustomError("preset", str(exc)) from None

    @property
    def kind(self) -> str:
        return next(k for k in STRATEGY_KINDS if getattr(self, k) is not None)

    @model_validator(mode="after")
    def _weights_in_order(self) -> Self:
        if self.steps is not None:
            _check_step_weights(self.steps)
        return self


def _check_step_weights(steps: list[StepSpec]) -> None:
    last: float = 0.0
    last_index = -1
    for index, step in enumerate(steps):
        if step.shift is None:
            continue
        if step.shift < last:
            raise _rule(f"weights must not decrease: {step.shift:g} after {last:g} "
                        f"(steps[{last_index}])", "steps", index, "shift")
        last, last_index = step.shift, index
    if last != 100:
        where = ("steps", last_index, "shift") if last_index >= 0 else ("steps",)
        detail = f"the last shift is {last:g}" if last_index >= 0 else "no step shifts traffic"
        raise _rule(f"every plan must end at 100; {detail} (add '- shift: 100')", *where)


# ---------------------------------------------------------------- checks, hooks, notify

class InsufficientData(StrEnum):
    IGNORE = "ignore"
    FAIL = "fail"


class AlreadyFiring(StrEnum):
    BLOCK = "block"
    IGNORE = "ignore"


EXTEND_FACTOR = 3  # on_inconclusive: extend: a bake runs at most 3x its length


class OnInconclusive(StrEnum):
    EXTEND = "extend"
    ROLLBACK = "rollback"
    APPROVE = "approve"
    PROMOTE = "promote"


class _Bound(Spec):
    """A metric's bounds: an absolute `max`, a ratio to the stable version, or both."""

    max_vs_stable: Ratio | None = None

    @model_validator(mode="after")
    def _a_bound(self) -> Self:
        if getattr(self, "max", None) is None and self.max_vs_stable is None:
            raise _rule("give max, max_vs_stable or both")
        return self


class ErrorRateBound(_Bound):
    max: Percent | None = None


class LatencyBound(_Bound):
    max: Annotated[Duration, Field(gt=0)] | None = None


class MetricsSpec(Spec):
    """Version-aware analysis (SPEC §7): the new version judged against the stable one."""

    error_rate: ErrorRateBound | None = None
    latency: LatencyBound | None = None

    @model_validator(mode="after")
    def _a_metric(self) -> Self:
        if self.error_rate is None and self.latency is None:
            raise _rule("give error_rate, latency or both")
        return self


ANALYSIS_FIELDS = ("window", "min_requests", "on_inconclusive")


class ChecksSpec(Spec):
    alarms: list[AlarmName] = Field(default_factory=list)
    poll_every: PollInterval = 10.0
    insufficient_data: InsufficientData = InsufficientData.IGNORE
    already_firing: AlreadyFiring = AlreadyFiring.BLOCK
    metrics: MetricsSpec | None = None
    window: Duration = 300.0
    min_requests: Annotated[int, Field(ge=1)] = 50
    on_inconclusive: OnInconclusive = OnInconclusive.EXTEND

    @model_validator(mode="after")
    def _analysis_settings(self) -> Self:
        if self.metrics is None:
            for name in ANALYSIS_FIELDS:
                if name in self.model_fields_set:
                    raise _rule(f"{name} goes with metrics (checks.metrics is not given)", name)
            return self
        if self.window < 60 or self.window % 60:
            raise _rule("window must be whole minutes, at least 1m (CloudWatch's periods are "
                        "1 minute)", "window")
        latency = self.metrics.latency
        if latency is not None and latency.max_vs_stable is not None and self.window < 120:
            raise _rule("latency.max_vs_stable needs a window of at least 2m (it compares the "
                        "versions minute by minute)", "window")
        return self

    @field_validator("alarms")
    @classmethod
    def _unique(cls, alarms: list[str]) -> list[str]:
        seen: set[str] = set()
        for index, name in enumerate(alarms):
            if name in seen:
                raise _rule(f"alarm {name!r} is listed twice", index)
            seen.add(name)
        return alarms


class HttpHookSpec(Spec):
    url: HttpUrl
    expect: Annotated[int, Field(ge=100, le=599)] = 200
    method: Literal["GET", "HEAD", "POST"] = "GET"
    headers: dict[str, str] = Field(default_factory=dict)
    timeout: Duration = 10.0


class HookSpec(Spec):
    one_of = (("lambda", "http", "command"),)
    lambda_: Annotated[str, Field(min_length=1)] | None = Field(default=None, alias="lambda")
    payload: dict[str, Any] | None = None
    http: HttpHookSpec | None = None
    command: Argv | None = None
    env: dict[str, str] | None = None
    timeout: Duration | None = None

    @model_validator(mode="after")
    def _options_fit_the_kind(self) -> Self:
        kind = self.kind
        if self.payload is not None and kind != "lambda":
            raise _rule("payload goes with a lambda hook", "payload")
        if self.env is not None and kind != "command":
            raise _rule("env goes with a command hook", "env")
        if self.timeout is not None and kind == "http":
            raise _rule("put an http hook's timeout inside http:", "timeout")
        return self

    @property
    def kind(self) -> str:
        return "lambda" if self.lambda_ else ("http" if self.http else "command")

    @property
    def label(self) -> str:
        """How runs, logs and `deployer plan` name this hook."""
        if self.lambda_:
            return f"lambda {self.lambda_}"
        if self.http:
            return f"http {self.http.method} {self.http.url}"
        return "command " + " ".join(self.command or ())

    @property
    def effective_timeout(self) -> float:
        if self.http is not None:
            return self.http.timeout
        return self.timeout or HOOK_TIMEOUTS[self.kind]


# Default timeouts: a lambda hook may report IN_PROGRESS for as long as a CodeDeploy
# hook may take (1h); a command is a smoke test (5m); an http check is one request.
HOOK_TIMEOUTS = {"lambda": 3600.0, "command": 300.0, "http": 10.0}


class HooksSpec(Spec):
    before_traffic: list[HookSpec] = Field(default_factory=list)
    after_traffic: list[HookSpec] = Field(default_factory=list)


class NotifySpec(Spec):
    sns_topic: TopicArn | None = None


# ---------------------------------------------------------------- windows (SPEC §14)

def _parsed_by(parse: Callable[[str], object]) -> AfterValidator:
    """A string that `parse` accepts (its ValueError is the message)."""
    def check(value: str) -> str:
        parse(value)
        return value
    return AfterValidator(check)


DayRange = Annotated[str, _parsed_by(windows.parse_days)]
TimeRange = Annotated[str, _parsed_by(windows.parse_between)]
TimeZoneName = Annotated[str, _parsed_by(windows.zone)]
LocalTime = Annotated[str, _parsed_by(windows.parse_local)]


class AllowWindow(Spec):
    """When releases may move traffic: days of the week and a time range, in a zone."""

    days: DayRange = "all"
    between: TimeRange = "00:00-24:00"
    tz: TimeZoneName = "UTC"

    def window(self) -> windows.Allow:
        start, end, crosses = windows.parse_between(self.between)
        return windows.Allow(windows.parse_days(self.days), start, end, crosses,
                             windows.zone(self.tz), f"{self.days} {self.between} {self.tz}")


class DenyWindow(Spec):
    """When releases may not move traffic, whatever `allow` says (a freeze)."""

    from_: LocalTime = Field(alias="from")
    to: LocalTime
    tz: TimeZoneName = "UTC"
    reason: str = ""

    @model_validator(mode="after")
    def _ordered(self) -> Self:
        if windows.parse_local(self.to) <= windows.parse_local(self.from_):
            raise _rule(f"to ({self.to}) must be after from ({self.from_})", "to")
        return self

    def window(self) -> windows.Deny:
        tz = windows.zone(self.tz)
        return windows.Deny(windows.parse_local(self.from_).replace(tzinfo=tz),
                            windows.parse_local(self.to).replace(tzinfo=tz), self.reason)


class OutsideWindow(StrEnum):
    WAIT = "wait"
    REFUSE = "refuse"


class WindowsSpec(Spec):
    allow: list[AllowWindow] = Field(default_factory=list)
    deny: list[DenyWindow] = Field(default_factory=list)
    change_calendars: list[CalendarName] = Field(default_factory=list)
    outside: OutsideWindow = OutsideWindow.WAIT

    def schedule(self) -> windows.Schedule:
        return windows.Schedule([a.window() for a in self.allow],
                                [d.window() for d in self.deny])



# ---------------------------------------------------------------- the plan

class ReleasePlan(Spec):
    """A whole, validated release plan (`version: 1`)."""

    model_config = ConfigDict(title="deployer release plan (version 1)")
    one_of = (("target", "targets"),)
    version: Literal[1]
    name: PlanName
    region: Region | None = None
    target: TargetSpec | None = None
    targets: Annotated[dict[PlanName, TargetEntry],
                       Field(min_length=1, max_length=MAX_TARGETS)] | None = None
    waves: list[Annotated[list[PlanName], Field(min_length=1)]] | None = None
    strategy: StrategySpec
    final_bake: Duration = 0.0
    keep_old_for: Duration = 0.0
    checks: ChecksSpec = Field(default_factory=ChecksSpec)
    hooks: HooksSpec = Field(default_factory=HooksSpec)
    notify: NotifySpec = Field(default_factory=NotifySpec)
    deadline: Duration | None = None
    windows: WindowsSpec | None = None

    @model_validator(mode="after")
    def _waves_cover_the_targets(self) -> Self:
        if self.waves is None:
            return self
        if self.targets is None:
            raise _rule("waves go with targets (a single target has no waves)", "waves")
        seen: dict[str, int] = {}
        for index, wave in enumerate(self.waves):
            for position, name in enumerate(wave):
                if name not in self.targets:
                    raise _rule(f"{name!r} is not one of the targets "
                                f"({', '.join(self.targets)})", "waves", index, position)
                if name in seen:
                    raise _rule(f"{name!r} is already in wave {seen[name] + 1}", "waves",
                                index, position)
                seen[name] = index
        missing = [name for name in self.targets if name not in seen]
        if missing:
            raise _rule(f"target{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                        "in no wave: every target goes in exactly one", "waves")
        return self

    @model_validator(mode="after")
    def _metrics_need_versions(self) -> Self:
        records = [leg.name for leg in self.legs if leg.spec.route53 is not None]
        if self.checks.metrics is not None and records:
            raise _rule(f"route53 target{'s' if len(records) > 1 else ''} "
                        f"{', '.join(records)} {'have' if len(records) > 1 else 'has'} no "
                        "per-version metrics (DNS answers carry no version): judge the release "
                        "by alarms (checks.alarms, or the target's own alarms)",
                        "checks", "metrics")
        return self

    @model_validator(mode="after")
    def _deadline_fits(self) -> Self:
        from deployer.plan.compile import baked_seconds, compile_strategy

        waves = len(self.waves) if self.waves else 1
        needed = waves * (baked_seconds(compile_strategy(self.strategy)) + self.final_bake)
        if self.deadline is not None and self.deadline < needed:
            raise _rule(
                f"deadline {format_duration(self.deadline)} is shorter than the plan's "
                f"{format_duration(needed)} of bakes", "deadline",
            )
        return self

    @property
    def refuses_outside_window(self) -> bool:
        """`windows.outside: refuse`: a release that starts while closed is refused."""
        return self.windows is not None and self.windows.outside is OutsideWindow.REFUSE

    @property
    def target_kind(self) -> str:
        """lambda or ecs for a single target; "multi" for a whole application."""
        return self.target.kind if self.target is not None else "multi"

    @property
    def legs(self) -> list[Leg]:
        """Every target with its name and own alarms; a single target is named after
        the plan."""
        if self.target is not None:
            return [Leg(self.name, self.target, (), 0)]
        assert self.targets is not None
        wave_of = {name: index for index, wave in enumerate(self.wave_names)
                   for name in wave}
        return [Leg(name, entry, tuple(entry.alarms), wave_of[name])
                for name, entry in self.targets.items()]

    @property
    def wave_names(self) -> list[list[str]]:
        if self.target is not None:
            return [[self.name]]
        assert self.targets is not None
        return [list(w) for w in self.waves] if self.waves else [list(self.targets)]

    @property
    def roles(self) -> list[str]:
        """The roles of targets in other accounts (SPEC §13), each once, in plan order."""
        return list(dict.fromkeys(leg.spec.role_arn for leg in self.legs if leg.spec.role_arn))

    def alarms_read_as(self, role: str | None) -> list[str]:
        """The alarms read in one account, each once: with `role`, its targets' own;
        with None, the run's own account's (the plan's and its own targets')."""
        if role is None:
            names = [*self.checks.alarms, *(a for leg in self.legs if not leg.spec.role_arn
                                            for a in leg.alarms)]
        else:
            names = [a for leg in self.legs if leg.spec.role_arn == role for a in leg.alarms]
        return list(dict.fromkeys(names))

    @property
    def all_alarms(self) -> list[str]:
        """The run's alarms and every target's own, each once (one batched poll)."""
        names = list(self.checks.alarms)
        for leg in self.legs:
            names += [a for a in leg.alarms if a not in names]
        return names


@dataclass(frozen=True, slots=True)
class Leg:
    """One target of a run: its name, its spec, its own alarms and its wave."""

    name: str
    spec: TargetSpec
    alarms: tuple[str, ...]
    wave: int
