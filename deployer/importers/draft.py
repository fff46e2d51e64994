"""A plan being imported: its values, where each came from, and what did not carry over.
Rendered as commented YAML (block style, a comment beside the value it explains),
validated like any plan, and written atomically (a temp file renamed into place)."""

from __future__ import annotations

import json
import os
import re
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from deployer.errors import PlanError
from deployer.importers.template import ImportProblem

# As the plan loader reads them: `$$` is a literal dollar, `${NAME}` a variable.
VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)\}")


@dataclass(frozen=True, slots=True)
class Warning_:
    source: str
    line: int
    message: str

    def __str__(self) -> str:
        return f"{self.source}:{self.line}: warning: {self.message}"


@dataclass
class Draft:
    name: str
    source: str
    plan: dict[str, Any]
    notes: dict[str, list[str]] = field(default_factory=dict)   # dotted path -> comments
    warnings: list[Warning_] = field(default_factory=list)
    line: int = 0                     # where its source starts (a function's resource)

    def note(self, path: str, text: str) -> None:
        # A comment is one line of text whatever the source held (a newline in a value
        # would end the comment and put the rest into the plan).
        self.notes.setdefault(path, []).append(_one_line(text))

    def warn(self, path: str, line: int, message: str, source: str | None = None) -> None:
        self.warnings.append(Warning_(source or self.source, line, message))
        self.note(path, f"WARNING: {message}")

    def render(self) -> str:
        lines = [f"# Imported by `deployer import` from {self.source}.",
                 "# Comments say where each value came from; WARNING lines what did not "
                 "carry over.", "", *_block(self.plan, "", 0, self.notes)]
        return "\n".join(lines) + "\n"

    def variables(self) -> list[str]:
        return sorted({name for name in VARIABLE.findall(self.render()) if name})


def _one_line(text: str) -> str:
    return "".join(c if c.isprintable() else " " for c in text)


def _block(value: dict[str, Any], path: str, depth: int, notes: dict[str, list[str]]
           ) -> list[str]:
    pad = "  " * depth
    out: list[str] = []
    for key, item in value.items():
        here = f"{path}.{key}" if path else key
        comments = notes.get(here, [])
        out += [f"{pad}# {c}" for c in comments[1:]]
        trailer = f"  # {comments[0]}" if comments else ""
        if isinstance(item, dict) and item:
            out.append(f"{pad}{key}:{trailer}")
            out += _block(item, here, depth + 1, notes)
        elif isinstance(item, list) and item and any(isinstance(i, dict) for i in item):
            out.append(f"{pad}{key}:{trailer}")
            for index, entry in enumerate(item):
                entry_notes = notes.get(f"{here}[{index}]", [])
                out += [f"{pad}  # {c}" for c in entry_notes]
                out.append(f"{pad}  - {_flow(entry)}")
        else:
            out.append(f"{pad}{key}: {_flow(item)}{trailer}")
    return out


def _flow(value: Any) -> str:
    """A value in YAML flow style (JSON is valid YAML)."""
    return json.dumps(value, default=str)


def check_and_write(drafts: list[Draft], out: Path) -> list[Path]:
    """Validate every draft (its ${VAR}s set to stand-ins), then write them all; nothing is
    written when one fails."""
    from deployer.plan.loader import validate_plan
    from deployer.plan.source import YamlProblems, load_yaml

    rendered = []
    for draft in drafts:
        text = draft.render()
        # Stand-ins for the variables the user sets: a number where a version (or a task
        # definition revision) goes, a name elsewhere (an alias cannot be all digits).
        environ = {name: "1" if name.endswith(("VERSION", "TASK_DEFINITION")) else "stand-in"
                   for name in draft.variables()}
        try:
            raw, source_map, problems = load_yaml(text, f"{draft.name}.yaml", environ=environ)
            validate_plan(raw, source_map, f"{draft.name}.yaml", (), problems)
        except YamlProblems as exc:
            raise ImportProblem(f"{draft.source}: the plan written from it does not read "
                                f"back: {'; '.join(str(p) for p in exc.problems)}") from None
        except PlanError as exc:  # say what is wrong with it, write nothing
            raise ImportProblem(f"{draft.source}: the plan written from it does not validate: "
                                + "; ".join(exc.problems)) from None
        rendered.append((out / f"{draft.name}.yaml", text))
    out.mkdir(parents=True, exist_ok=True)
    for target, text in rendered:
        handle, temporary = tempfile.mkstemp(dir=out, prefix=f".{target.name}.")
        with os.fdopen(handle, "w", encoding="utf-8") as stream:
            stream.write(text)
        os.replace(temporary, target)
    return [target for target, _ in rendered]
