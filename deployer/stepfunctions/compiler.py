"""Compile a release plan to an AWS Step Functions state machine (ASL, JSONPath only).

The machine is one loop over the plan's step table (`table.py`, a literal in the
definition): load the entry, check the deadline, record it, act on it, advance.
A shift writes every target of the wave (a Map over them) and reads each one back; a
bake waits and polls the alarms and the operator's requests; an approval writes its
task token into the run record and waits for it while a parallel branch keeps
watching the alarms; hooks invoke Lambda functions and judge their hookStatus.
Every failure goes to one rollback branch, which restores every target that has had
traffic, reads each back and records the outcome. A read-back that does not match
(someone else changed the route) fails as drift and touches nothing.

What varies per run — versions, ARNs, the full listener actions, time-scaled waits,
the run id — is the execution input, built by `inputs.py`.
"""

from __future__ import annotations

from typing import Any

from deployer.plan.model import (
    AlreadyFiring,
    HookSpec,
    InsufficientData,
    OnInconclusive,
    ReleasePlan,
)
from deployer.stepfunctions.analysis import measure_states
from deployer.stepfunctions.asl import (
    ABORTED,
    APPEND_EVENT,
    APPROVED,
    CHECK_FAILED,
    DEADLINE,
    DRIFT,
    HOOK_FAILED,
    NO_EVENTS,
    UNANSWERED,
    State,
    catch,
    event,
    retry,
    sdk_task,
    update_record,
)
from deployer.stepfunctions.legs import (
    leg_kinds,
    leg_program,
    only,
    prefixed,
    retire_program,
    with_roles,
)
from deployer.stepfunctions.table import Entry, build_table
from deployer.stepfunctions.windows import judge_expression

MAP_CONCURRENCY = 16
HOOK_RETRY_DELAY = 30.0


def compile_plan(plan: ReleasePlan, table: str, poll_every: float | None = None
                 ) -> dict[str, Any]:
    """The ASL definition of `plan`, keeping its run records in DynamoDB `table`."""
    return _Compiler(plan, table, build_table(plan, poll_every)).definition()


class _Compiler:
    def __init__(self, plan: ReleasePlan, table: str, entries: list[Entry]) -> None:
        self.plan = plan
        self.table = table
        self.entries = entries
        self.alarms = plan.all_alarms
        # Alarms by account (SPEC §13): the machine's own (the plan's and its targets'),
        # then each target role's, read with that role (a Task's Credentials).
        self.roles = plan.roles  # the other accounts' target roles, in the plan's order
        self.own_alarms = plan.alarms_read_as(None)
        self.role_alarms = [(role, plan.alarms_read_as(role)) for role in self.roles
                            if plan.alarms_read_as(role)]
        self.alarm_count = len(self.own_alarms) + sum(len(n) for _, n in self.role_alarms)
        self.muting = bool(self.alarms) and \
            plan.checks.already_firing is AlreadyFiring.IGNORE
        self.kinds = leg_kinds(plan.legs)
        self.analysis = plan.checks.metrics is not None
        self.states: dict[str, State] = {}

    # ------------------------------------------------------------ the document

    def definition(self) -> dict[str, Any]:
        self._loop()
        self._shift()
        self._windows()
        self._bake()
        self._gate()
        for stage in ("before_traffic", "after_traffic"):
            self._hooks(stage, getattr(self.plan.hooks, stage))
        self._retire_and_finish()
        self._rollback()
        return {
            "Comment": f"deployer release plan {self.plan.name}: {len(self.entries)} steps",
            "QueryLanguage": "JSONPath",
            "StartAt": "Plan",
            "States": _reachable("Plan", self.states),
        }

    def _record(self, name: str, update: str, values: dict[str, Any], next_state: str,
                on_error: str | None = "Rollback") -> None:
        self.states[name] = update_record(self.table, update, values, next_state=next_state,
                                          on_error=on_error)

    def _notice(self, name: str, event_name: str, next_state: str) -> str:
        """Publish `event_name` to the plan's SNS topic (the local engine's message, an
        `event` attribute to filter on), then go to `next_state`; without a topic, or
        when publishing fails, simply go on: a notification never decides a release."""
        topic = self.plan.notify.sns_topic
        if topic is None:
            return next_state
        self.states[name] = {"Type": "Pass", "ResultPath": "$.notice",
                             "Next": f"{name}Publish", "Parameters": {
                                 "event": event_name, "run_id.$": "$.run.id",
                                 "plan_name": self.plan.name, "at.$": "$$.State.EnteredTime",
                                 "execution.$": "$$.Execution.Id"}}
        self.states[f"{name}Publish"] = {
            "Type": "Task", "Resource": "arn:aws:states:::sns:publish",
            "Parameters": {
                "TopicArn": topic, "Subject": f"deployer {self.plan.name}: {event_name}"[:100],
                "Message.$": "States.JsonToString($.notice)",
                "MessageAttributes": {
                    "event": {"DataType": "String", "StringValue": event_name},
                    "plan_name": {"DataType": "String", "StringValue": self.plan.name}},
            },
            "ResultPath": None, "Retry": retry("sns"), "Next": next_state,
            "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": None, "Next": next_state}],
        }
        return name

    # ------------------------------------------------------------ the loop

    def _loop(self) -> None:
        waves = self.plan.wave_names
        full_at = [self._after_strategy(w) for w in range(len(waves))]
        self.states["Plan"] = {
            "Type": "Pass", "ResultPath": "$.plan", "Next": "Started",
            "Result": {"steps": [e.document() for e in self.entries], "full_at": full_at,
                       "full_route": _last_route(self.entries)},
        }
        self._record("Started", f"SET sf_execution = :execution, {APPEND_EVENT}", {
            ":execution": {"S.$": "$$.Execution.Id"}, **NO_EVENTS,
            ":event": {"L": [event("PENDING", "execution started on AWS Step Functions")]},
        }, self._notice("NoticeStarted", "started", "LoadStep"))
        self.states["LoadStep"] = {
            "Type": "Pass", "ResultPath": "$.step", "Next": "Gatekeeper",
            "Parameters": {"e.$": "States.ArrayGetItem($.plan.steps, $.pos.at)",
                           "now.$": "$$.State.EnteredTime"},
        }
        self.states["Gatekeeper"] = {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.step.e.deadline", "BooleanEquals": True},
                     {"Variable": "$.step.now", "TimestampGreaterThanPath": "$.run.deadline"}],
             "Next": "DeadlineHit"},
            {"Variable": "$.step.e.kind", "StringEquals": "done", "Next": "Finish"},
        ], "Default": "Enter"}
        self._record("Enter", "SET sf_phase = :phase, sf_stage = :stage, sf_step = :index, "
                     f"sf_wave = :wave, {APPEND_EVENT}", {
                         ":phase": {"S.$": "$.step.e.phase"},
                         ":stage": {"S.$": "$.step.e.stage"},
                         ":index": {"N.$": "States.JsonToString($.step.e.index)"},
                         ":wave": {"N.$": "States.JsonToString($.step.e.wave)"},
                         **NO_EVENTS,
                         ":event": {"L": [event({"S.$": "$.step.e.phase"}, "$.step.e.message")]},
                     }, "Dispatch")
        kinds = {"wave": "WaveLegs", "before_traffic": "before_traffic0",
                 "shift": "WindowAsk" if self.plan.windows else "ShiftPrep",
                 "bake": "BakeStart", "approve": "GatePrep",
                 "after_traffic": "after_traffic0", "retire": "Retire"}
        present = {e.kind for e in self.entries}
        self.states["Dispatch"] = {"Type": "Choice", "Choices": [
            {"Variable": "$.step.e.kind", "StringEquals": kind, "Next": target}
            for kind, target in kinds.items() if kind in present
        ], "Default": "UnknownStep"}
        self.states["UnknownStep"] = {"Type": "Pass", "ResultPath": "$.error", "Parameters": {
            "Error": "deployer.UnknownStep",
            "Cause.$": "States.Format('unknown step kind {}', $.step.e.kind)"},
            "Next": "Rollback"}
        self.states["Advance"] = {"Type": "Pass", "ResultPath": "$.pos", "Next": "LoadStep",
                                  "Parameters": {"at.$": "States.MathAdd($.pos.at, 1)"}}
        self.states["WaveLegs"] = {
            "Type": "Pass", "ResultPath": "$.cur", "Next": "WaveCheck", "Parameters": {
                "legs.$": "States.ArrayGetItem($.waves, $.step.e.wave)",
                "context.$": "States.ArrayGetItem($.contexts, $.step.e.wave)",
                "route": 0, "weight": 0}}
        # Before the wave's first write: each target must still be all on its stable side.
        self.states["WaveCheck"] = self._legs_map("$.cur.legs", "check", "0", "WaveReady",
                                                  "Check")
        # The wave's targets read back all on stable: that is the run's weight now.
        self._record("WaveReady", "SET sf_weight = :zero", {":zero": {"N": "0"}}, "Advance")
        self.states["DeadlineHit"] = _fail_with(DEADLINE, "'the plan''s deadline passed'",
                                                "Rollback", literal=True)

    def _after_strategy(self, wave: int) -> int:
        """The entry index right after wave `wave`'s strategy steps (promote --full)."""
        strategy = ("shift", "bake", "approve", "wave", "before_traffic")
        last = max(i for i, e in enumerate(self.entries)
                   if e.wave == wave and e.kind in strategy
                   and e.stage not in {"final_bake", "keep_old"})
        return last + 1

    def _program(self, program: dict[str, Any], prefix: str) -> dict[str, Any]:
        program = only(program, self.kinds)
        if self.roles:
            program = with_roles(program)
        named = prefixed(program, prefix)
        return {**named, "States": _reachable(named["StartAt"], named["States"])}

    def _legs_map(self, items: str, mode: str, route: str, next_state: str, prefix: str
                  ) -> State:
        route_value = {"route": int(route)} if route.isdigit() else {"route.$": route}
        state: State = {
            "Type": "Map", "ItemsPath": items, "MaxConcurrency": MAP_CONCURRENCY,
            "ItemSelector": {"leg.$": "$$.Map.Item.Value", "mode": mode, "none": {},
                             **route_value},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
                              **self._program(leg_program(), prefix)},
            "ResultPath": None, "Next": next_state,
        }
        if mode != "undo":
            state["Catch"] = [catch("Drifted", DRIFT), catch("Rollback")]
        return state

    # ------------------------------------------------------------ shifts

    def _shift(self) -> None:
        self.states["ShiftPrep"] = {"Type": "Pass", "ResultPath": "$.to", "Next": "ShiftCheck",
                                    "Parameters": {"route.$": "$.step.e.route",
                                                   "weight.$": "$.step.e.weight",
                                                   "jump": False}}
        # Compare before write: every target must still read what this run last set
        # (someone else's change is drift, never overwritten), then write and read back.
        self.states["ShiftCheck"] = self._legs_map("$.cur.legs", "check", "$.cur.route",
                                                   "Shift", "Before")
        self.states["Shift"] = self._legs_map("$.cur.legs", "write", "$.to.route", "Shifted",
                                             "Write")
        self._record("Shifted", f"SET sf_weight = :weight, sf_phase = :phase, {APPEND_EVENT}", {
            ":weight": {"N.$": "States.JsonToString($.to.weight)"},
            ":phase": {"S": "SHIFTING"}, **NO_EVENTS,
            ":event": {"L": [event("SHIFTING", "States.Format('shifted to {}% (read back)', "
                                               "$.to.weight)", "$.to.weight")]},
        }, "Remember")
        # The wave's route and weight now (analysis judges only `max` bounds at 100%).
        self.states["Remember"] = {"Type": "Pass", "ResultPath": "$.cur", "Next": "AfterShift",
                                   "Parameters": {"legs.$": "$.cur.legs",
                                                  "context.$": "$.cur.context",
                                                  "route.$": "$.to.route",
                                                  "weight.$": "$.to.weight"}}
        self.states["AfterShift"] = {"Type": "Choice", "Choices": [
            {"Variable": "$.to.jump", "BooleanEquals": True, "Next": "PromoteJump"},
        ], "Default": "Advance"}
        self.states["PromoteFull"] = {"Type": "Pass", "ResultPath": "$.to", "Next": "ShiftCheck",
                                      "Parameters": {"route.$": "$.plan.full_route",
                                                     "weight": 100, "jump": True}}
        self.states["PromoteJump"] = {"Type": "Pass", "ResultPath": "$.pos", "Next": "LoadStep",
                                      "Parameters": {"at.$": "States.ArrayGetItem("
                                                     "$.plan.full_at, $.step.e.wave)"}}

    # ------------------------------------------------------------ windows (SPEC §14)

    def _windows(self) -> None:
        """Before each shift: read the calendars, judge the window (windows.py); closed,
        hold in WAITING_WINDOW — Wait, poll the checks and requests as a bake does, ask
        again — until it opens, an override arrives or the hold allowance runs out."""
        spec = self.plan.windows
        if spec is None:
            return
        if spec.change_calendars:
            self.states["WindowAsk"] = {
                "Type": "Task", "QueryLanguage": "JSONata",
                "Resource": "arn:aws:states:::aws-sdk:ssm:getCalendarState",
                "Arguments": {"CalendarNames": list(spec.change_calendars)},
                "Output": "{% $merge([$states.input, {'wcal': {'state': $states.result.State, "
                          "'next': $states.result.NextTransitionTime}}]) %}",
                "Retry": retry("ssm"), "Next": "WindowJudge",
                # Unreadable is closed, never open: the judge says why.
                "Catch": [{"ErrorEquals": ["States.ALL"], "Next": "WindowJudge", "Output": (
                    "{% $merge([$states.input, {'wcal': {'error': "
                    "$string($states.errorOutput.Error) & ': ' & "
                    "$string($states.errorOutput.Cause)}}]) %}")}]}
        else:
            self.states["WindowAsk"] = {"Type": "Pass", "ResultPath": "$.wcal",
                                        "Result": {"state": "OPEN"}, "Next": "WindowJudge"}
        first = next(i for i, e in enumerate(self.entries) if e.kind == "shift")
        self.states["WindowJudge"] = {"Type": "Pass", "QueryLanguage": "JSONata",
                                      "Output": judge_expression(first), "Next": "WindowOpen"}
        self.states["WindowOpen"] = {"Type": "Choice", "Choices": [
            {"And": [{"Variable": "$.win.open", "BooleanEquals": True},
                     {"Variable": "$.held.in", "BooleanEquals": True}], "Next": "WindowGoOn"},
            {"Variable": "$.win.open", "BooleanEquals": True, "Next": "ShiftPrep"},
            {"Variable": "$.held.in", "BooleanEquals": True, "Next": "WindowCount"},
        ], "Default": "WindowHold"}
        self._record("WindowHold", "SET sf_phase = :phase, sf_stage = :stage, "
                     f"sf_window = :window, {APPEND_EVENT}", {
                         ":phase": {"S": "WAITING_WINDOW"},
                         ":stage": {"S.$": "States.Format('window: {}', $.win.why)"},
                         ":window": {"S.$": "$.win.shown"}, **NO_EVENTS,
                         ":event": {"L": [event("WAITING_WINDOW", "$.win.holding",
                                                "$.cur.weight")]},
                     }, "WindowHeld")
        self.states["WindowHeld"] = {"Type": "Pass", "ResultPath": "$.held",
                                     "Parameters": {"n.$": "$.held.n", "in": True},
                                     "Next": "WindowCount"}
        self.states["WindowCount"] = {"Type": "Choice", "Choices": [
            {"Variable": "$.held.n", "NumericGreaterThanEqualsPath": "$.windows.allowance",
             "Next": "WindowTooLong"}], "Default": "WindowWait"}
        self.states["WindowWait"] = {"Type": "Wait", "SecondsPath": "$.win.sleep",
                                     "Next": "HoldPoll"}
        self.states.update(self._poll_states("Hold", caught=True))
        self.states["HoldJudge"] = {"Type": "Choice", "Choices": [
            *self._check_rules("Hold"),
            {"And": [{"Variable": f"$.req.Item.sf_override.M.{key}.S", "IsPresent": True}
                     for key in ("id", "by", "reason")], "Next": "WindowOverride"},
        ], "Default": "WindowTick"}
        self._fail_states([*self._failures("Hold"), (
            "WindowTooLong", CHECK_FAILED,
            "States.Format('held by the deployment window for {} polls, as long as one "
            "Step Functions execution can watch (its history budget): {}', $.held.n, "
            "$.win.why)")])
        self.states["WindowTick"] = {"Type": "Pass", "ResultPath": "$.held",
                                     "Parameters": {"n.$": "States.MathAdd($.held.n, 1)",
                                                    "in": True},
                                     "Next": "WindowAsk"}
        self._record("WindowOverride", "SET sf_taken = list_append(if_not_exists(sf_taken, "
                     f":none), :taken), {APPEND_EVENT}", {
                         ":taken": {"L": [{"S.$": "$.req.Item.sf_override.M.id.S"}]},
                         **NO_EVENTS,
                         ":event": {"L": [event("WAITING_WINDOW", (
                             "States.Format('deployment window overridden by {}: {}', "
                             "$.req.Item.sf_override.M.by.S, "
                             "$.req.Item.sf_override.M.reason.S)"), "$.cur.weight")]},
                     }, "WindowOverridden")
        self.states["WindowOverridden"] = {
            "Type": "Pass", "ResultPath": "$.run.override", "Next": "WindowAsk",
            "Parameters": {"by.$": "$.req.Item.sf_override.M.by.S",
                           "reason.$": "$.req.Item.sf_override.M.reason.S"}}
        self._record("WindowGoOn", f"SET sf_phase = :phase, sf_stage = :stage, {APPEND_EVENT} "
                     "REMOVE sf_window", {
                         ":phase": {"S": "SHIFTING"}, ":stage": {"S": ""}, **NO_EVENTS,
                         ":event": {"L": [event("SHIFTING", "$.win.goOn", "$.cur.weight")]},
                     }, "WindowLeft")
        self.states["WindowLeft"] = {"Type": "Pass", "ResultPath": "$.held",
                                     "Parameters": {"n.$": "$.held.n", "in": False},
                                     "Next": "ShiftPrep"}

    # ------------------------------------------------------------ bakes

    def _bake(self) -> None:
        self.states["BakeStart"] = {"Type": "Pass", "ResultPath": "$.bake", "Next": "BakeWait",
                                    "Parameters": {"left.$": "$.step.e.polls",
                                                   "extended": False}}
        self.states["BakeWait"] = {"Type": "Wait", "SecondsPath": "$.run.poll",
                                   "Next": "BakePoll"}
        self.states.update(self._poll_states("Bake", caught=True))
        rules = [
            *self._check_rules("Bake"),
            {"And": [{"Variable": f"$.req.Item.sf_promote.M.{key}.S", "IsPresent": True}
                     for key in ("id", "action", "by")], "Next": "Promote"},
            *self._extension_over(),
            {"Variable": "$.bake.left", "NumericLessThanEquals": 1,
             "Next": "BakeEnd" if self.analysis else "Advance"},
        ]
        self.states["BakeJudge"] = {"Type": "Choice", "Choices": rules, "Default": "BakeTick"}
        self.states["BakeTick"] = {"Type": "Pass", "ResultPath": "$.bake", "Next": "BakeWait",
                                   "Parameters": {"left.$": "States.MathAdd($.bake.left, -1)",
                                                  "extended.$": "$.bake.extended"}}
        if self.analysis:
            self._bake_end()
        self._fail_states(self._failures("Bake"))
        self._record("Promote", "SET sf_taken = list_append(if_not_exists(sf_taken, :none), "
                     f":taken), {APPEND_EVENT} REMOVE sf_promote", {
                         ":taken": {"L": [{"S.$": "$.req.Item.sf_promote.M.id.S"}]}, **NO_EVENTS,
                         ":event": {"L": [event({"S.$": "$.step.e.phase"}, (
                             "States.Format('{} by {}: the bake is cut short', "
                             "$.req.Item.sf_promote.M.action.S, $.req.Item.sf_promote.M.by.S)"))]},
                     }, "PromoteHow")
        self.states["PromoteHow"] = {"Type": "Choice", "Choices": [
            {"Variable": "$.req.Item.sf_promote.M.action.S", "StringEquals": "promote_full",
             "Next": "PromoteFull"}], "Default": "Advance"}

    def _extension_over(self) -> list[dict[str, Any]]:
        """on_inconclusive: extend: an extended bake ends once analysis is conclusive."""
        if not self.analysis or self.plan.checks.on_inconclusive is not OnInconclusive.EXTEND:
            return []
        return [{"And": [{"Variable": "$.bake.extended", "BooleanEquals": True},
                         {"Variable": "$.an.unsure", "IsNull": True}], "Next": "Advance"}]

    def _bake_end(self) -> None:
        """The end of a strategy or final bake under analysis: still inconclusive, the
        plan's on_inconclusive decides (SPEC §7), with the local engine's words."""
        policy = self.plan.checks.on_inconclusive
        rules: list[dict[str, Any]] = [
            {"Or": [{"Variable": "$.an.unsure", "IsNull": True},
                    {"Not": {"Variable": "$.step.e.judged", "IsPresent": True}}],
             "Next": "Advance"}]
        label, why = "$.step.e.label", "$.an.unsure"
        if policy is OnInconclusive.PROMOTE:
            default = "BakeGoOn"
            self._record("BakeGoOn", f"SET {APPEND_EVENT}", {**NO_EVENTS, ":event": {"L": [
                event({"S.$": "$.step.e.phase"}, "States.Format('analysis inconclusive at the "
                      f"end of the {{}}: going on (on_inconclusive: promote): {{}}', {label}, "
                      f"{why})")]}}, "Advance")
        elif policy is OnInconclusive.ROLLBACK:
            default = "BakeUnsure"
            self._fail_states([("BakeUnsure", CHECK_FAILED, "States.Format('analysis: "
                                "inconclusive at the end of the {}: {}', "
                                f"{label}, {why})")])
        elif policy is OnInconclusive.EXTEND:
            rules.append({"Variable": "$.bake.extended", "BooleanEquals": True,
                          "Next": "BakeUnsureExtended"})
            default = "BakeExtend"
            self._fail_states([("BakeUnsureExtended", CHECK_FAILED, "States.Format('analysis: "
                                "inconclusive at the end of the {} after {}: {}', "
                                f"{label}, $.step.e.extend_to, {why})")])
            self._record("BakeExtend", f"SET {APPEND_EVENT}", {**NO_EVENTS, ":event": {"L": [
                event({"S.$": "$.step.e.phase"}, "States.Format('{} extended: analysis "
                      f"inconclusive ({{}}); baking up to {{}}', {label}, {why}, "
                      "$.step.e.extend_to)")]}}, "BakeExtended")
            self.states["BakeExtended"] = {"Type": "Pass", "ResultPath": "$.bake",
                                           "Next": "BakeWait", "Parameters": {
                                               "left.$": "$.step.e.more", "extended": True}}
        else:  # approve: the approval gate, with an approval step's default timeout
            default = "AnalysisGate"
            self._record("AnalysisGate", f"SET sf_phase = :phase, sf_stage = :stage, "
                         f"{APPEND_EVENT}", {
                             ":phase": {"S": "AWAITING_APPROVAL"},
                             ":stage": {"S.$": "$.step.e.gate"}, **NO_EVENTS,
                             ":event": {"L": [event("AWAITING_APPROVAL", (
                                 "States.Format('waiting for approval: analysis inconclusive "
                                 "at the end of the {} ({}); deployer approve {} to go on, "
                                 f"deployer abort {{}} to roll back', {label}, {why}, "
                                 "$.run.id, $.run.id)"))]}}, "GatePrep")
        self.states["BakeEnd"] = {"Type": "Choice", "Choices": rules, "Default": default}

    def _poll_states(self, prefix: str, *, caught: bool) -> dict[str, State]:
        """One poll: every alarm in one DescribeAlarms call, then the run's requests.
        `caught`: an AWS error goes to the rollback branch (else it fails the branch the
        poll runs in, whose Parallel catches it)."""
        on_error = "Rollback" if caught else None
        poll = self._describe_alarms(self.own_alarms, "$.poll", f"{prefix}Seen", on_error)
        if not self.own_alarms:  # none of its own: AlarmNames [] would read them all
            poll = {"Type": "Pass", "ResultPath": "$.poll", "Next": f"{prefix}Seen",
                    "Result": {"names": [], "states": [], "composites": [],
                               "compositeStates": []}}
        others: dict[str, State] = {}
        for index, (role, names) in enumerate(self.role_alarms):
            later = f"{prefix}PollAs{index + 1}" if index + 1 < len(self.role_alarms) \
                else poll["Next"]
            others[f"{prefix}PollAs{index}"] = {
                **self._describe_alarms(names, f"$.pollAs{index}", later, on_error),
                "Credentials": {"RoleArn": role}}
        if others:
            poll = {**poll, "Next": f"{prefix}PollAs0"}
        judge = f"{prefix}Judge"
        measured: dict[str, State] = {}
        if self.analysis:  # read and judge the versions, note it in the record, then judge
            measure = f"{prefix}Measure"
            measured = {**measure_states(self.plan.checks, prefix, f"{prefix}Note", on_error,
                                         self.roles),
                        f"{prefix}Note": self._analysis_note(judge, on_error)}
            judge = measure
        if self.muting or others:  # one JSONata state judges every account's alarms
            states = self._muting_poll_states(prefix, poll, on_error, judge)
            if others:  # Poll -> PollAs0 -> ... -> Requests
                others[list(others)[-1]]["Next"] = states[f"{prefix}Poll"]["Next"]
                states[f"{prefix}Poll"]["Next"] = f"{prefix}PollAs0"
            return {**states, **others, **measured}
        requests = self._requests(judge, on_error)
        seen: State = {"Type": "Pass", "ResultPath": "$.seen", "Next": f"{prefix}Requests",
                       "Parameters": {
                           "alarm.$": "States.ArrayContains($.poll.states, 'ALARM')",
                           "composite.$": "States.ArrayContains($.poll.compositeStates, 'ALARM')",
                           "nodata.$": "States.ArrayContains($.poll.states, 'INSUFFICIENT_DATA')",
                           "count.$": "States.MathAdd(States.ArrayLength($.poll.states), "
                                      "States.ArrayLength($.poll.compositeStates))",
                           "now.$": "$$.State.EnteredTime"}}
        return {f"{prefix}Poll": poll, f"{prefix}Seen": seen, f"{prefix}Requests": requests,
                **measured}

    @staticmethod
    def _describe_alarms(names: list[str], path: str, next_state: str,
                         on_error: str | None) -> State:
        return sdk_task("cloudwatch", "describeAlarms", {
            "AlarmNames": names, "AlarmTypes": ["CompositeAlarm", "MetricAlarm"],
            "MaxRecords": 100,
        }, next_state=next_state, on_error=on_error, result_path=path, result_selector={
            "names.$": "$.MetricAlarms[*].AlarmName",
            "states.$": "$.MetricAlarms[*].StateValue",
            "composites.$": "$.CompositeAlarms[*].AlarmName",
            "compositeStates.$": "$.CompositeAlarms[*].StateValue",
        })

    def _analysis_note(self, next_state: str, on_error: str | None) -> State:
        """The poll's verdicts and numbers into the record (`analysis`, `inconclusive`),
        and an event when a verdict changed (`an.events` is then one event, else none)."""
        return update_record(self.table, "SET sf_analysis = :doc, sf_inconclusive = :unsure, "
                             f"sf_verdicts = :flat, {APPEND_EVENT}", {
                                 ":doc": {"S.$": "$.an.doc"},
                                 ":unsure": {"S.$": "$.an.unsureText"},
                                 ":flat": {"S.$": "$.an.flat"}, **NO_EVENTS,
                                 ":event": {"L.$": "$.an.events"}},
                             next_state=next_state, on_error=on_error)

    def _muting_poll_states(self, prefix: str, poll: State, on_error: str | None,
                            judge: str) -> dict[str, State]:
        """`already_firing: ignore`: alarms in ALARM at the start are muted until they
        have been seen OK once (SPEC §11b). The muted list lives in the run record
        (`sf_muted`, first the execution input's `run.muted`), so it survives the
        approval gate's Parallel; it is read with the requests, and the one state that
        computes (JSONata) judges the unmuted alarms and says who is no longer muted."""
        poll = {**poll, "Next": f"{prefix}Requests"}
        requests = self._requests(f"{prefix}Seen", on_error)
        seen: State = {"Type": "Pass", "QueryLanguage": "JSONata",
                       "Output": seen_expression(len(self.role_alarms)),
                       "Next": f"{prefix}Muting"}
        muting: State = {"Type": "Choice", "Choices": [
            {"Variable": "$.mute.changed", "BooleanEquals": True, "Next": f"{prefix}Unmute"}],
            "Default": judge}
        unmute = update_record(self.table, "SET sf_muted = :muted",
                               {":muted": {"L.$": "$.mute.items"}},
                               next_state=judge, on_error=on_error)
        return {f"{prefix}Poll": poll, f"{prefix}Requests": requests, f"{prefix}Seen": seen,
                f"{prefix}Muting": muting, f"{prefix}Unmute": unmute}

    def _requests(self, next_state: str, on_error: str | None) -> State:
        """Read the operator requests the record holds for the machine."""
        projection = "pk, sf_abort, sf_promote" + (", sf_muted" if self.muting else "") \
            + (", sf_verdicts" if self.analysis else "") \
            + (", sf_override" if self.plan.windows else "")
        requests: State = {
            "Type": "Task", "Resource": "arn:aws:states:::dynamodb:getItem",
            "Parameters": {"TableName": self.table,
                           "Key": {"pk": {"S.$": "States.Format('run#{}', $.run.id)"}},
                           "ProjectionExpression": projection,
                           "ConsistentRead": True},
            "ResultPath": "$.req",  # {"Item": {...}}: small, and never a missing path
            "Retry": retry("dynamodb"), "Next": next_state,
        }
        if on_error:
            requests["Catch"] = [catch(on_error)]
        return requests

    def _check_rules(self, prefix: str) -> list[dict[str, Any]]:
        rules: list[dict[str, Any]] = [
            # Every path a rule reads must exist: a missing one is States.Runtime, which
            # no Catch takes (the execution would die with traffic split).
            {"Not": {"Variable": "$.req.Item", "IsPresent": True}, "Next": f"{prefix}Gone"},
            {"Or": [{"Variable": "$.seen.alarm", "BooleanEquals": True},
                    {"Variable": "$.seen.composite", "BooleanEquals": True}],
             "Next": f"{prefix}Alarm"},
            {"Variable": "$.seen.count", "NumericLessThan": self.alarm_count,
             "Next": f"{prefix}Missing"},
        ]
        if self.plan.checks.insufficient_data is InsufficientData.FAIL:
            rules.append({"Variable": "$.seen.nodata", "BooleanEquals": True,
                          "Next": f"{prefix}NoData"})
        if self.analysis:
            rules.append({"Variable": "$.an.fail", "IsString": True,
                          "Next": f"{prefix}Analysis"})
        rules += [
            *self._abort_rules(prefix),
            {"And": [{"Variable": "$.step.e.deadline", "BooleanEquals": True},
                     {"Variable": "$.seen.now", "TimestampGreaterThanPath": "$.run.deadline"}],
             "Next": f"{prefix}Deadline"},
        ]
        return rules

    def _fail_states(self, failures: list[tuple[str, str, str]]) -> None:
        """Each (name, error, cause) as a Pass that sets $.error and goes to the rollback
        branch; a cause in single quotes is literal text, else an intrinsic."""
        for name, error, cause in failures:
            self.states[name] = _fail_with(error, cause, "Rollback",
                                           literal=cause.startswith("'"))

    @staticmethod
    def _abort_rules(prefix: str) -> list[dict[str, Any]]:
        return [
            {"Variable": "$.req.Item.sf_abort.S", "IsPresent": True, "Next": f"{prefix}Abort"},
            {"Variable": "$.req.Item.sf_abort", "IsPresent": True,
             "Next": f"{prefix}AbortAnyway"},
        ]

    @staticmethod
    def _abort_failures(prefix: str) -> list[tuple[str, str, str]]:
        return [
            (f"{prefix}Abort", ABORTED, "States.Format('aborted by {}', $.req.Item.sf_abort.S)"),
            (f"{prefix}AbortAnyway", ABORTED, "'aborted by an operator'"),
        ]

    def _failures(self, prefix: str) -> list[tuple[str, str, str]]:
        alarms = ("States.Format('an alarm is in ALARM (alarms {} read {}; composite alarms "
                  "{} read {})', States.JsonToString($.poll.names), "
                  "States.JsonToString($.poll.states), States.JsonToString($.poll.composites), "
                  "States.JsonToString($.poll.compositeStates))")
        missing = ("States.Format('an alarm cannot be read: asked for {} alarms, AWS returned "
                   "{} ({} {})', " + str(self.alarm_count) + ", $.seen.count, "
                   "States.JsonToString($.poll.names), States.JsonToString($.poll.composites))")
        nodata = ("States.Format('an alarm has INSUFFICIENT_DATA and checks.insufficient_data "
                  "is fail (alarms {} read {})', States.JsonToString($.poll.names), "
                  "States.JsonToString($.poll.states))")
        return [
            (f"{prefix}Alarm", CHECK_FAILED, alarms),
            (f"{prefix}Missing", CHECK_FAILED, missing),
            (f"{prefix}NoData", CHECK_FAILED, nodata),
            (f"{prefix}Analysis", CHECK_FAILED, "$.an.fail"),
            *self._abort_failures(prefix),
            (f"{prefix}Gone", CHECK_FAILED, "'the run record is gone from its table'"),
            (f"{prefix}Deadline", DEADLINE, "'the plan''s deadline passed'"),
        ]

    # ------------------------------------------------------------ approvals

    def _gate(self) -> None:
        if not any(e.kind == "approve" or e.gate for e in self.entries):
            return
        self.states["GatePrep"] = {"Type": "Pass", "ResultPath": "$.gate",
                                   "Next": self._notice("NoticeApproval", "approval_requested",
                                                        "Gate"),
                                   "Parameters": {"timeout.$": "States.ArrayGetItem("
                                                  "$.run.timeouts, $.pos.at)"}}
        token_wait: State = {
            "Type": "Task",
            "Resource": "arn:aws:states:::aws-sdk:dynamodb:updateItem.waitForTaskToken",
            "TimeoutSecondsPath": "$.gate.timeout",
            "Parameters": {
                "TableName": self.table,
                "Key": {"pk": {"S.$": "States.Format('run#{}', $.run.id)"}},
                "UpdateExpression": "SET sf_token = :token ADD version :one",
                "ExpressionAttributeValues": {":token": {"S.$": "$$.Task.Token"},
                                              ":one": {"N": "1"}},
            },
            "ResultPath": "$.answer", "Retry": retry("dynamodb"), "Next": "Answered",
            # The timeout leaves the branch under a name of ours: what a Parallel's Catch
            # sees of a branch's States.* error differs between engines.
            "Catch": [{"ErrorEquals": ["States.Timeout"], "ResultPath": None,
                       "Next": "Unanswered"}],
        }
        answered: State = {"Type": "Fail", "Error": APPROVED,
                           "CausePath": "States.JsonToString($.answer)"}
        watch = {
            "WatchWait": {"Type": "Wait", "SecondsPath": "$.run.poll", "Next": "WatchPoll"},
            **self._poll_states("Watch", caught=False),
            "WatchJudge": {"Type": "Choice", "Choices": self._check_rules("Watch"),
                           "Default": "WatchWait"},
        }
        for name, error, cause in self._failures("Watch"):
            literal = cause.startswith("'")
            watch[name] = {"Type": "Fail", "Error": error,
                           **({"Cause": cause.strip("'").replace("''", "'")} if literal
                              else {"CausePath": cause})}
        self.states["Gate"] = {
            "Type": "Parallel", "ResultPath": None, "Next": "Advance",
            "Branches": [
                {"StartAt": "WaitForOperator",
                 "States": {"WaitForOperator": token_wait, "Answered": answered,
                            "Unanswered": {"Type": "Fail", "Error": UNANSWERED,
                                           "Cause": "the approval timed out"}}},
                {"StartAt": "WatchWait", "States": watch},
            ],
            "Catch": [catch("GateAnswer", APPROVED), catch("GateTimeout", UNANSWERED),
                      catch("Rollback")],
        }
        self.states["GateAnswer"] = {"Type": "Pass", "ResultPath": "$.answer",
                                     "Next": "GateFields", "Parameters": {
                                         "a.$": "States.StringToJson($.error.Cause)"}}
        # An answer not sent by deployer (the console, another tool) is not an approval.
        fields = ("action", "id", "by")
        self.states["GateFields"] = {"Type": "Choice", "Choices": [
            {"And": [{"Variable": f"$.answer.a.{k}", "IsPresent": True} for k in fields],
             "Next": "GateTypes"}], "Default": "GateUnreadable"}
        self.states["GateTypes"] = {"Type": "Choice", "Choices": [
            {"And": [{"Variable": f"$.answer.a.{k}", "IsString": True} for k in fields],
             "Next": "GateRecord"}], "Default": "GateUnreadable"}
        self.states["GateUnreadable"] = _fail_with(CHECK_FAILED, (
            "States.Format('the approval was answered with {}, which is not an approve, "
            "promote or abort sent by deployer', States.JsonToString($.answer.a))"),
            "Rollback")
        self._record("GateRecord", "SET sf_taken = list_append(if_not_exists(sf_taken, :none), "
                     f":taken), {APPEND_EVENT} REMOVE sf_token", {
                         ":taken": {"L": [{"S.$": "$.answer.a.id"}]}, **NO_EVENTS,
                         ":event": {"L": [event("AWAITING_APPROVAL", (
                             "States.Format('{} by {}', $.answer.a.action, $.answer.a.by)"))]},
                     }, "GateHow")
        self.states["GateHow"] = {"Type": "Choice", "Choices": [
            {"Variable": "$.answer.a.action", "StringEquals": "promote_full",
             "Next": "PromoteFull"},
            {"Or": [{"Variable": "$.answer.a.action", "StringEquals": action}
                    for action in ("approve", "promote")], "Next": "Advance"},
        ], "Default": "GateUnreadable"}
        self.states["GateTimeout"] = {"Type": "Choice", "Choices": [
            {"Variable": "$.step.e.on_timeout", "StringEquals": "promote",
             "Next": "GateTimeoutPromote"}], "Default": "GateTimeoutRollback"}
        self._record("GateTimeoutPromote", f"REMOVE sf_token SET {APPEND_EVENT}", {
            **NO_EVENTS, ":event": {"L": [event(
                "AWAITING_APPROVAL", "approval timed out: going on (on_timeout: promote)")]},
        }, "Advance")
        self.states["GateTimeoutRollback"] = _fail_with(
            CHECK_FAILED, "'approval timed out (on_timeout: rollback)'", "Rollback", literal=True)

    # ------------------------------------------------------------ hooks

    def _hooks(self, stage: str, hooks: list[HookSpec]) -> None:
        for index, hook in enumerate(hooks):
            name = f"{stage}{index}"
            after = f"{stage}{index + 1}" if index + 1 < len(hooks) else "Advance"
            self._hook(stage, name, hook, after)

    def _hook(self, stage: str, name: str, hook: HookSpec, after: str) -> None:
        assert hook.lambda_ is not None  # the engine refuses other hook kinds (validation)
        timeout = hook.effective_timeout
        tries = max(1, int(timeout // HOOK_RETRY_DELAY))
        label = f"{stage} hook {hook.label}"
        self.states[name] = {"Type": "Pass", "Result": {"left": tries}, "ResultPath": "$.tries",
                             "Next": f"{name}Invoke"}
        invoke: State = {
            "Type": "Task", "Resource": "arn:aws:states:::lambda:invoke",
            "Parameters": {"FunctionName": hook.lambda_,
                           "Payload": {**(hook.payload or {}),
                                       "deployer.$": f"$.cur.context.{stage}"}},
            "ResultPath": "$.hook",
            "Retry": retry("lambda"), "Catch": [catch(f"{name}Error")],
            "Next": f"{name}Judge",
        }
        if hook.timeout:
            invoke["TimeoutSeconds"] = max(1, int(hook.timeout))
        self.states[f"{name}Invoke"] = invoke
        status = "$.hook.Payload.hookStatus"
        self.states[f"{name}Judge"] = {"Type": "Choice", "Choices": [
            {"Not": {"Variable": "$.hook.Payload", "IsPresent": True}, "Next": f"{name}Passed"},
            {"Variable": "$.hook.Payload", "IsNull": True, "Next": f"{name}Passed"},
            _status_rule(status, "SUCCEEDED", f"{name}Passed"),
            _status_rule(status, "FAILED", f"{name}Failed"),
            _status_rule(status, "IN_PROGRESS", f"{name}Again"),
            {"Variable": status, "IsPresent": True, "Next": f"{name}Failed"},
        ], "Default": f"{name}Empty"}
        self.states[f"{name}Empty"] = {"Type": "Pass", "ResultPath": "$.hooktext",
                                       "Next": f"{name}EmptyJudge", "Parameters": {
                                           "text.$": "States.JsonToString($.hook.Payload)"}}
        self.states[f"{name}EmptyJudge"] = {"Type": "Choice", "Choices": [
            {"Variable": "$.hooktext.text", "StringEquals": "{}", "Next": f"{name}Passed"}],
            "Default": f"{name}Failed"}
        self.states[f"{name}Failed"] = _fail_with(HOOK_FAILED, (
            f"States.Format('{_quote(label)} failed: it answered {{}} (hookStatus SUCCEEDED, "
            "FAILED or IN_PROGRESS expected)', States.JsonToString($.hook.Payload))"), "Rollback")
        self.states[f"{name}Error"] = _fail_with(HOOK_FAILED, (
            f"States.Format('{_quote(label)} failed: {{}}', States.JsonToString($.error))"),
            "Rollback")
        self.states[f"{name}Again"] = {"Type": "Choice", "Choices": [
            {"Variable": "$.tries.left", "NumericLessThanEquals": 1, "Next": f"{name}Stuck"}],
            "Default": f"{name}Delay"}
        self.states[f"{name}Stuck"] = _fail_with(
            HOOK_FAILED, f"'{_quote(label)} still answers IN_PROGRESS after {timeout:g}s'",
            "Rollback", literal=True)
        self.states[f"{name}Delay"] = {"Type": "Wait", "SecondsPath": "$.run.hook_delay",
                                       "Next": f"{name}Requests"}
        # A hook may say IN_PROGRESS for an hour: an abort is read between its answers.
        self.states[f"{name}Requests"] = self._requests(f"{name}Asked", "Rollback")
        self.states[f"{name}Asked"] = {"Type": "Choice", "Choices": self._abort_rules(name),
                                       "Default": f"{name}Count"}
        self._fail_states(self._abort_failures(name))
        self.states[f"{name}Count"] = {"Type": "Pass", "ResultPath": "$.tries",
                                       "Next": f"{name}Invoke", "Parameters": {
                                           "left.$": "States.MathAdd($.tries.left, -1)"}}
        self._record(f"{name}Passed", f"SET {APPEND_EVENT}", {
            **NO_EVENTS, ":event": {"L": [event({"S.$": "$.step.e.phase"},
                                                f"{label} passed")]},
        }, after)

    # ------------------------------------------------------------ the end

    def _retire_and_finish(self) -> None:
        self.states["Retire"] = {
            "Type": "Map", "ItemsPath": "$.all", "MaxConcurrency": MAP_CONCURRENCY,
            "ItemSelector": {"leg.$": "$$.Map.Item.Value"},
            "ItemProcessor": {"ProcessorConfig": {"Mode": "INLINE"},
                              **self._program(retire_program(), "Retire")},
            "ResultPath": None, "Next": "Advance", "Catch": [catch("RetireFailed")],
        }
        # Traffic is whole on the new version: a failure to scale the old one down is
        # recorded, not rolled back.
        self._record("RetireFailed", f"SET {APPEND_EVENT}", {
            **NO_EVENTS, ":event": {"L": [event("PROMOTING", (
                "States.Format('warning: retiring the old version failed: {}', "
                "States.JsonToString($.error))"))]},
        }, "Advance", on_error="Advance")
        self._terminal("Finish", "SUCCEEDED", "succeeded", 0, "'succeeded'",
                       self._notice("NoticeSucceeded", "succeeded", "Succeeded"),
                       weight="100")
        self.states["Succeeded"] = {"Type": "Succeed"}

    def _terminal(self, name: str, phase: str, outcome: str, code: int, message: str,
                  next_state: str, weight: str | None = None, hint: str = "") -> None:
        text = message.strip("'") if message.startswith("'") else None
        values: dict[str, Any] = {
            ":phase": {"S": phase}, ":outcome": {"S": outcome}, ":exit": {"N": str(code)},
            ":ended": {"S.$": "$$.State.EnteredTime"}, ":hint": {"S": hint},
            # A success has no reason (as a local run's); the event still says it.
            ":reason": {"S": ""} if code == 0 else
            {"S": text} if text is not None else {"S.$": message},
            **NO_EVENTS,
            ":event": {"L": [event(phase, text if text is not None else message)]},
        }
        update = ("SET sf_phase = :phase, sf_outcome = :outcome, sf_exit = :exit, "
                  "sf_ended = :ended, sf_reason = :reason, sf_hint = :hint, "
                  f"{APPEND_EVENT}")
        if weight is not None:
            values[":weight"] = {"N": weight}
            update += ", sf_weight = :weight"
        update += " REMOVE sf_token"
        self._record(name, update, values, next_state, on_error=next_state)

    def _ensure_cause(self, name: str, path: str, next_state: str) -> None:
        """`name`: go on to `next_state` once the error at `path` has a string Cause
        (giving it the whole error as JSON when it has none)."""
        self.states[name] = {"Type": "Choice", "Choices": [
            {"Variable": f"{path}.Cause", "IsPresent": True, "Next": f"{name}IsText"}],
            "Default": f"{name}NoCause"}
        self.states[f"{name}IsText"] = {"Type": "Choice", "Choices": [
            {"Variable": f"{path}.Cause", "IsString": True, "Next": next_state}],
            "Default": f"{name}NoCause"}
        self.states[f"{name}NoCause"] = {
            "Type": "Pass", "ResultPath": path, "Next": next_state,
            "Parameters": {"Error": "deployer.Error", "Cause.$": f"States.JsonToString({path})"}}

    def _rollback(self) -> None:
        hint = "run deployer rollback PLAN to put all traffic on the stable version"
        # A caught error has Error and Cause; make sure of it before any state reads them.
        self._ensure_cause("Rollback", "$.error", "RollingBack")
        self._record("RollingBack", f"SET sf_phase = :phase, {APPEND_EVENT}", {
            ":phase": {"S": "ROLLING_BACK"}, **NO_EVENTS,
            ":event": {"L": [event("ROLLING_BACK",
                                   "States.Format('rolling back: {}', $.error.Cause)")]},
        }, "Undo", on_error="Undo")
        # Every target, not only the waves that started: rollout prepared them all
        # before the hand-over (a later wave's new ECS colour, its test route), and an
        # untouched target's route 0 is what it already reads.
        undo = self._legs_map("$.all", "undo", "0", "HowEnded", "Undo")
        undo["Catch"] = [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.undoError",
                          "Next": "UndoFailed"}]
        self._ensure_cause("UndoFailed", "$.undoError", "RollbackFailed")
        self.states["Undo"] = undo
        self.states["HowEnded"] = {"Type": "Choice", "Choices": [
            {"Variable": "$.error.Error", "StringEquals": ABORTED, "Next": "RecordAborted"}],
            "Default": "RecordRolledBack"}
        self._terminal("RecordAborted", "ABORTED", "aborted", 4, "$.error.Cause",
                       self._notice("NoticeAborted", "aborted", "Stop"),
                       weight="0")
        self._terminal("RecordRolledBack", "ROLLED_BACK", "rolled_back", 3, "$.error.Cause",
                       self._notice("NoticeRolledBack", "rolled_back", "Stop"), weight="0")
        self._terminal("RollbackFailed", "FAILED", "failed", 6, (
            "States.Format('{} and then the rollback failed: {}: {}', $.error.Cause, "
            "$.undoError.Error, $.undoError.Cause)"),
            self._notice("NoticeFailed", "failed", "Stop"), hint=hint)
        self._terminal("Drifted", "FAILED", "failed", 6, "$.error.Cause",
                       self._notice("NoticeFailed", "failed", "Stop"), hint=hint)
        self.states["Stop"] = {"Type": "Fail", "ErrorPath": "$.error.Error",
                               "CausePath": "$.error.Cause"}


# The poll's verdict with muted alarms (JSONata 2.0.6, as Step Functions runs it: no `??`,
# no `?:`). Muted: the record's sf_muted once written, else the input's run.muted. An
# alarm seen OK is muted no more; the rest of the muted stay muted. `seen` has the fields
# the JSONPath poll gives (alarm, composite, nodata, count, now) over unmuted alarms.
def seen_expression(others: int) -> str:
    """The poll's verdict over the machine's alarms (`$.poll`) and each target role's
    (`$.pollAs0`, ...), with muted ones left out (JSONata 2.0.6, as Step Functions runs
    it: no `??`, no `?:`). Muted: the record's sf_muted once written, else the input's
    run.muted. An alarm seen OK is muted no more; the rest stay muted. `seen` has the
    fields the JSONPath poll gives (alarm, composite, nodata, count, now)."""
    polls = ", ".join(["$in.poll", *(f"$in.pollAs{i}" for i in range(others))])
    return """{% (
  $in := $states.input;
  $now := $states.context.State.EnteredTime;
  $pairs := $reduce([""" + polls + """], function($acc, $p) {(
    $n := $append($append([], $p.names), $append([], $p.composites));
    $v := $append($append([], $p.states), $append([], $p.compositeStates));
    $append($acc, $map($n, function($x, $i) { {"n": $x, "s": $v[$i]} }))
  )}, []);
  $recorded := $in.req.Item.sf_muted;
  $muted := $exists($recorded) ? $append([], $recorded.L.S) : $append([], $in.run.muted);
  $ok := $append([], $pairs[s = "OK"].n);
  $still := $append([], $filter($muted, function($m) { $not($m in $ok) }));
  $active := $append([], $pairs[$not(n in $still)]);
  $merge([$in, {
    "seen": {"alarm": "ALARM" in $active.s, "composite": false,
             "nodata": "INSUFFICIENT_DATA" in $active.s, "count": $count($pairs),
             "now": $now},
    "mute": {"changed": $count($still) != $count($muted),
             "items": $append([], $map($still, function($m) { {"S": $m} }))}
  }])
) %}"""


MUTED_SEEN = seen_expression(0)


def _reachable(start: str, states: dict[str, State]) -> dict[str, State]:
    """Only the states a run can enter (AWS refuses a definition with others): the
    loop is generic, and a plan without, say, an approval never routes to the gate."""
    for state in states.values():
        for branch in state.get("Branches", []):
            branch["States"] = _reachable(branch["StartAt"], branch["States"])
    keep: list[str] = []
    todo = [start]
    while todo:
        name = todo.pop()
        if name in keep:
            continue
        keep.append(name)
        state = states[name]
        todo += [state["Next"]] if "Next" in state else []
        todo += [c["Next"] for c in state.get("Choices", [])]
        todo += [state["Default"]] if "Default" in state else []
        todo += [c["Next"] for c in state.get("Catch", [])]
    return {name: state for name, state in states.items() if name in keep}


def _fail_with(error: str, cause: str, next_state: str, *, literal: bool = False) -> State:
    """A Pass that puts {Error, Cause} where a Catch would, then goes on."""
    body: dict[str, Any] = {"Error": error}
    if literal:
        body["Cause"] = cause.strip("'").replace("''", "'")
    else:
        body["Cause.$"] = cause
    return {"Type": "Pass", "ResultPath": "$.error", "Parameters": body, "Next": next_state}


def _status_rule(path: str, status: str, next_state: str) -> dict[str, Any]:
    """hookStatus is compared case-insensitively by the local engine; ASL has no such
    comparison, so the spellings hooks use are listed: SUCCEEDED, Succeeded, succeeded
    (and In_Progress / InProgress). Any other spelling fails closed."""
    words = status.split("_")
    spellings = {status, status.lower(), "_".join(w.capitalize() for w in words),
                 "".join(w.capitalize() for w in words)}
    if len(words) > 1:
        spellings.add(words[0].capitalize() + "_" + "_".join(w.lower() for w in words[1:]))
    return {"Or": [{"Variable": path, "StringEquals": s} for s in sorted(spellings)],
            "Next": next_state}


def _quote(text: str) -> str:
    """Text inside an intrinsic's single-quoted literal."""
    return text.replace("\\", "\\\\").replace("'", "\\'").replace("{", "\\{").replace("}", "\\}")


def _last_route(entries: list[Entry]) -> int:
    return max((e.route for e in entries if e.kind == "shift"), default=0)
