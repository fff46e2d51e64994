"""Safe YAML reading that remembers where every value came from.

PyYAML's composer gives us a node graph with marks; we build plain Python
values from it ourselves so that we can (a) record FILE:LINE:COL for every
key and value, (b) refuse duplicate keys, (c) bound alias expansion and depth
(billion-laughs documents stop with a clear error instead of eating memory),
and (d) expand `${VAR}` / `${VAR:-default}` in string scalars only.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml

MAX_BYTES = 1024 * 1024
MAX_NODES = 100_000
MAX_DEPTH = 64

PathKey = tuple[str | int, ...]

_MERGE_TAG = "tag:yaml.org,2002:merge"
_STR_TAG = "tag:yaml.org,2002:str"
_VARIABLE = re.compile(r"\$\$|\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


@dataclass(frozen=True, slots=True)
class Position:
    source: str
    line: int
    column: int

    def __str__(self) -> str:
        return f"{self.source}:{self.line}:{self.column}"


@dataclass(frozen=True, slots=True)
class Problem:
    """One user-facing problem: where, which field, what is wrong."""

    position: Position
    path: str
    message: str

    def __str__(self) -> str:
        where = f"{self.path}: " if self.path else ""
        return f"{self.position}: {where}{self.message}"


@dataclass(slots=True)
class SourceMap:
    """Where each value (and each mapping key) of a document was written."""

    values: dict[PathKey, Position] = field(default_factory=dict)
    keys: dict[PathKey, Position] = field(default_factory=dict)

    def locate(self, path: PathKey, *, prefer_key: bool = False) -> Position:
        """The position of `path`, or of its nearest written ancestor."""
        for end in range(len(path), -1, -1):
            prefix = path[:end]
            if prefer_key and prefix in self.keys:
                return self.keys[prefix]
            if prefix in self.values:
                return self.values[prefix]
        return next(iter(self.values.values()), Position("<plan>", 1, 1))

    def forget_below(self, path: PathKey) -> None:
        for table in (self.values, self.keys):
            for known in [p for p in table if p[: len(path)] == path]:
                del table[known]


def format_path(path: PathKey) -> str:
    text = ""
    for part in path:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else part)
    return text


class YamlProblems(Exception):
    def __init__(self, problems: list[Problem]) -> None:
        super().__init__("; ".join(map(str, problems)))
        self.problems = problems


def decode_plan_bytes(data: bytes, source: str) -> str:
    """UTF-8 text of a plan file, or YamlProblems saying why it is not one."""
    where = Position(source, 1, 1)
    if len(data) > MAX_BYTES:
        raise YamlProblems(
            [Problem(where, "", f"file is {len(data)} bytes; a plan may be at most {MAX_BYTES}")]
        )
    if b"\x00" in data:
        raise YamlProblems([Problem(where, "", "binary file (contains NUL bytes), not YAML")])
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise YamlProblems(
            [Problem(_offset_position(data, exc.start, source), "",
                     f"not UTF-8 text: byte 0x{data[exc.start]:02x} cannot be decoded")]
        ) from None


def _offset_position(data: bytes, offset: int, source: str) -> Position:
    before = data[:offset]
    line = before.count(b"\n") + 1
    column = offset - (before.rfind(b"\n") + 1) + 1
    return Position(source, line, column)


def load_yaml(
    text: str,
    source: str,
    *,
    environ: Mapping[str, str] | None = None,
    expand_variables: bool = True,
    line_offset: int = 0,
    column_offset: int = 0,
) -> tuple[Any, SourceMap, list[Problem]]:
    """Parse one YAML document.

    Fatal problems (syntax, empty, bombs) raise YamlProblems; the rest (a missing
    variable, a duplicate key) come back as a list so validation can go on and
    report everything at once.
    """
    builder = _Builder(source, os.environ if environ is None else environ, expand_variables,
                       line_offset, column_offset)
    loader: yaml.SafeLoader | None = None
    try:
        loader = yaml.SafeLoader(text)  # the reader checks every character here
        node = loader.get_single_node()
    except yaml.MarkedYAMLError as exc:
        mark = exc.problem_mark or exc.context_mark
        message = " ".join(filter(None, (exc.context, exc.problem)))
        position = builder.position(mark) if mark else Position(source, 1, 1)
        raise YamlProblems([Problem(position, "", f"YAML syntax: {message}")]) from None
    except yaml.reader.ReaderError as exc:
        raise YamlProblems(
            [Problem(builder.offset_position(text, exc.position), "",
                     f"YAML syntax: unacceptable character U+{exc.character:04X}")]
        ) from None
    except RecursionError:
        raise YamlProblems(
            [Problem(Position(source, 1, 1), "", f"nested deeper than {MAX_DEPTH} levels")]
        ) from None
    finally:
        if loader is not None:
            loader.dispose()
    if node is None:
        raise YamlProblems([Problem(Position(source, 1, 1), "", "the plan is empty")])
    value = builder.build(node, (), 0, loader)
    if builder.nodes > MAX_NODES:
        raise YamlProblems(builder.problems)
    return value, builder.source_map, builder.problems


class _Builder:
    def __init__(self, source: str, environ: Mapping[str, str], expand: bool,
                 line_offset: int, column_offset: int) -> None:
        self.source = source
        self.environ = environ
        self.expand = expand
        self.line_offset = line_offset
        self.column_offset = column_offset
        self.source_map = SourceMap()
        self.problems: list[Problem] = []
        self.nodes = 0

    def position(self, mark: yaml.Mark) -> Position:
        column = mark.column + 1 + (self.column_offset if mark.line == 0 else 0)
        return Position(self.source, mark.line + 1 + self.line_offset, column)

    def offset_position(self, text: str, offset: int) -> Position:
        before = text[:offset]
        return Position(self.source, before.count("\n") + 1 + self.line_offset,
                        offset - (before.rfind("\n") + 1) + 1)

    def _fail(self, node: yaml.Node, path: PathKey, message: str) -> None:
        self.problems.append(Problem(self.position(node.start_mark), format_path(path), message))

    def build(self, node: yaml.Node, path: PathKey, depth: int, loader: yaml.SafeLoader) -> Any:
        self.nodes += 1
        if self.nodes > MAX_NODES:
            if self.nodes == MAX_NODES + 1:
                self._fail(node, path, f"document expands to more than {MAX_NODES} values "
                                       "(alias bomb?)")
            return None
        if depth > MAX_DEPTH:
            self._fail(node, path, f"nested deeper than {MAX_DEPTH} levels")
            return None
        self.source_map.values.setdefault(path, self.position(node.start_mark))
        if isinstance(node, yaml.MappingNode):
            return self._mapping(node, path, depth, loader)
        if isinstance(node, yaml.SequenceNode):
            return [self.build(item, (*path, i), depth + 1, loader)
                    for i, item in enumerate(node.value)]
        return self._scalar(node, path, loader)

    def _mapping(self, node: yaml.MappingNode, path: PathKey, depth: int,
                 loader: yaml.SafeLoader) -> dict[str, Any]:
        result: dict[str, Any] = {}
        explicit: dict[str, yaml.Node] = {}
        merged: list[yaml.Node] = []
        for key_node, value_node in node.value:
            if key_node.tag == _MERGE_TAG:
                merged.append(value_node)
                continue
            if not isinstance(key_node, yaml.ScalarNode):
                self._fail(key_node, path, "a mapping key must be a plain string")
                continue
            key = str(key_node.value)
            if key in explicit:
                first = self.position(explicit[key].start_mark)
                self._fail(key_node, (*path, key),
                           f"duplicate key {key!r} (first at line {first.line})")
                continue
            explicit[key] = key_node
            self.source_map.keys[(*path, key)] = self.position(key_node.start_mark)
            result[key] = self.build(value_node, (*path, key), depth + 1, loader)
        for source in merged:
            sources = source.value if isinstance(source, yaml.SequenceNode) else [source]
            for item in sources:
                base = self.build(item, path, depth + 1, loader)
                if not isinstance(base, dict):
                    self._fail(item, path, "a merge key (<<) needs a mapping")
                    continue
                for key, value in base.items():
                    result.setdefault(key, value)
        return result

    def _scalar(self, node: yaml.Node, path: PathKey, loader: yaml.SafeLoader) -> Any:
        try:
            value = loader.construct_object(node, deep=True)
        except yaml.YAMLError as exc:
            self._fail(node, path, f"YAML value: {exc}")
            return None
        if node.tag == _STR_TAG and isinstance(value, str) and self.expand:
            return self._expand(value, node, path)
        return value

    def _expand(self, text: str, node: yaml.Node, path: PathKey) -> str:
        def replace(match: re.Match[str]) -> str:
            if match.group(0) == "$$":
                return "$"
            name, default = match.group(1), match.group(2)
            if name in self.environ:
                return self.environ[name]
            if default is not None:
                return default
            self._fail(node, path, f"environment variable {name} is not set "
                                   f"(write ${{{name}:-default}} for a default)")
            return ""

        return _VARIABLE.sub(replace, text)
