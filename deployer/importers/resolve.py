"""Template values -> plan strings (SAM and plain CloudFormation templates alike).

What is static is resolved: literal names, `!Ref` to a parameter with a default,
`!Sub` over such parameters (both forms), `!If` (first branch, with a warning), `!Ref` /
`!GetAtt X.Arn` of a function or alarm defined in the template. Anything else becomes a
`${VAR}` placeholder with a warning naming its line. Literal text is escaped (`$` ->
`$$`) so that the plan loader never reads it as a variable of its own."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any, Literal

from deployer.importers.draft import Draft
from deployer.importers.shapes import as_dict, is_scalar
from deployer.importers.template import Located, line_of

ALARM = "AWS::CloudWatch::Alarm"
LAMBDA_FUNCTIONS = ("AWS::Serverless::Function", "AWS::Lambda::Function")
# What a resource without its name property is called: SAM's importer has always used
# the logical id (with a warning); CloudFormation's gives a placeholder (SPEC §10b).
Unnamed = Literal["logical id", "placeholder"]


def literal(text: str) -> str:
    """Text from the source, as a plan string that means exactly that text."""
    return text.replace("$", "$$")


def env_name(text: str) -> str:
    """A variable name made from any text: FOO_BAR, never starting with a digit."""
    name = re.sub(r"[^A-Za-z0-9]+", "_", text).strip("_").upper() or "VALUE"
    return f"V_{name}" if name[0].isdigit() else name


@dataclass
class Resolver:
    """Turns template values into plan strings, noting what it could not resolve."""

    template: dict[str, Any]
    draft: Draft

    @property
    def resources(self) -> dict[str, Any]:
        return as_dict(self.template.get("Resources"))

    def resource(self, logical: Any, types: tuple[str, ...]) -> dict[str, Any] | None:
        found = self.resources.get(logical) if isinstance(logical, str) else None
        return found if isinstance(found, dict) and found.get("Type") in types else None

    def parameter(self, name: Any) -> str | None:
        spec = as_dict(self.template.get("Parameters")).get(name) \
            if isinstance(name, str) else None
        if isinstance(spec, dict) and is_scalar(spec.get("Default")):
            return str(spec["Default"])
        return None

    def text(self, value: Any, path: str, line: int, variable: str) -> str:
        line = line_of(value, line)
        variable = env_name(variable)
        if is_scalar(value):
            return literal(str(value))
        if isinstance(value, dict) and len(value) == 1:
            ((key, argument),) = value.items()
            if key == "Ref" and isinstance(argument, str):
                found = self.parameter(argument)
                if found is not None:
                    self.draft.note(path, f"from parameter {argument}'s default")
                    return literal(found)
            if key == "Fn::Sub":
                resolved = self._sub(argument, path, line)
                if resolved is not None:
                    return resolved
            if key == "Fn::If" and isinstance(argument, list) and len(argument) == 3:
                self.draft.warn(path, line, f"!If on condition {_show(argument[0])}: the first "
                                            "branch was taken")
                return self.text(argument[1], path, line, variable)
        self.draft.warn(path, line, f"{_show(value)} cannot be resolved here: set "
                                    f"${{{variable}}}")
        return f"${{{variable}}}"

    def _sub(self, argument: Any, path: str, line: int) -> str | None:
        """`!Sub "a-${P}"` or `!Sub ["a-${X}", {X: ...}]`; None when not a Sub it can read."""
        given: dict[str, Any] = {}
        if isinstance(argument, list) and len(argument) == 2 and isinstance(argument[1], dict):
            argument, given = argument[0], argument[1]
        if not isinstance(argument, str):
            return None
        missing: list[str] = []
        pieces: list[str] = []
        position = 0
        for match in re.finditer(r"\$\{([^}!]*)\}", argument):
            pieces.append(literal(argument[position:match.start()]))
            position = match.end()
            name = match.group(1)
            found: str | None = None
            if name in given:
                value = given[name]
                if is_scalar(value):
                    found = str(value)
                elif isinstance(value, dict) and list(value) == ["Ref"]:
                    found = self.parameter(value["Ref"])
            else:
                found = self.parameter(name)
            if found is not None:
                pieces.append(literal(found))
                continue
            variable = env_name(name.replace("AWS::", ""))
            missing.append(f"{name} -> ${{{variable}}}")
            pieces.append(f"${{{variable}}}")
        pieces.append(literal(argument[position:]))
        if missing:
            self.draft.warn(path, line, "!Sub with values known only at deploy time: "
                                        + ", ".join(missing))
        return "".join(pieces)

    def function_name(self, value: Any, path: str, line: int, variable: str,
                      unnamed: Unnamed = "logical id") -> str:
        """A function: `!Ref` / `!GetAtt X.Arn` of one defined here -> its name."""
        logical: Any = None
        if isinstance(value, dict) and "Ref" in value:
            logical = value["Ref"]
        elif isinstance(value, dict) and isinstance(value.get("Fn::GetAtt"), list) and \
                value["Fn::GetAtt"]:
            logical = value["Fn::GetAtt"][0]
        resource = self.resource(logical, LAMBDA_FUNCTIONS)
        if resource is None:
            return self.text(value, path, line, variable)
        name = as_dict(resource.get("Properties")).get("FunctionName")
        if name is not None:
            return self.text(name, path, line_of(resource, line), variable)
        return self._unnamed(str(logical), "function", "FunctionName", path,
                             line_of(value, line), variable, unnamed)

    def alarm_name(self, value: Any, path: str, line: int, variable: str,
                   unnamed: Unnamed = "logical id") -> str:
        logical = value.get("Ref") if isinstance(value, dict) else None
        resource = self.resource(logical, (ALARM,))
        if resource is None:
            return self.text(value, path, line, variable)
        name = as_dict(resource.get("Properties")).get("AlarmName")
        if name is None:
            return self._unnamed(str(logical), "alarm", "AlarmName", path,
                                 line_of(value, line), variable, unnamed)
        self.draft.note(path, f"AlarmName of {logical}")
        return self.text(name, path, line_of(resource, line), variable)

    def _unnamed(self, logical: str, kind: str, prop: str, path: str, line: int,
                 variable: str, unnamed: Unnamed) -> str:
        generated = f"CloudFormation names it <stack>-{logical}-<suffix>"
        if unnamed == "logical id":
            self.draft.warn(path, line, f"{kind} {logical} has no {prop}: its logical id is "
                            f"used; {generated}")
            return literal(logical)
        variable = env_name(variable)
        self.draft.warn(path, line, f"{kind} {logical} has no {prop}: {generated}; set "
                        f"${{{variable}}} to its physical name (or set its {prop})")
        return f"${{{variable}}}"


def _show(value: Any) -> str:
    if isinstance(value, str):
        return value[:80]
    if isinstance(value, Located) and len(value) == 1:
        ((key, argument),) = value.items()
        return f"{key} {argument!r}"[:80]
    return repr(value)[:80]
