"""Reading what users already have (SAM / CloudFormation templates, CodeDeploy appspecs and
deployment groups): YAML or JSON with every CloudFormation short-form tag, each mapping
and list remembering its line, within the same bounds as plans (1 MiB, no binary, no
alias bomb). Anything unreadable is an ImportProblem (exit 2), never a traceback."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from deployer.errors import ExitCode, UsageError

MAX_BYTES = 1 << 20
MAX_NODES = 100_000
TAGS = ("Ref", "Condition", "GetAtt", "Sub", "If", "Join", "Select", "FindInMap",
        "ImportValue", "Equals", "Not", "And", "Or", "Base64", "Cidr", "GetAZs", "Split",
        "Transform", "Length", "ToJsonString")


class ImportProblem(UsageError):
    """An input an import verb cannot read: printed as `FILE: message`, exit 2."""

    exit_code = ExitCode.INVALID
    located = True  # the message starts with the file: no "deployer:" before it


class Located(dict[str, Any]):
    """A mapping that knows the line it starts on."""

    line: int = 0


class LocatedList(list[Any]):
    line: int = 0


class _Loader(yaml.SafeLoader):
    pass


def _mapping(loader: _Loader, node: yaml.MappingNode) -> Located:
    value = Located({str(k): v for k, v in loader.construct_mapping(node, deep=True).items()})
    value.line = node.start_mark.line + 1
    return value


def _sequence(loader: _Loader, node: yaml.SequenceNode) -> LocatedList:
    value = LocatedList(loader.construct_sequence(node, deep=True))
    value.line = node.start_mark.line + 1
    return value


def _tag(name: str) -> Any:
    key = name if name in ("Ref", "Condition") else f"Fn::{name}"

    def construct(loader: _Loader, node: yaml.Node) -> Located:
        if isinstance(node, yaml.ScalarNode):
            value: Any = loader.construct_scalar(node)
            if name == "GetAtt":  # !GetAtt Resource.Attribute
                value = LocatedList(str(value).split(".", 1))
        elif isinstance(node, yaml.SequenceNode):
            value = _sequence(loader, node)
        else:
            value = _mapping(loader, node)  # type: ignore[arg-type]
        result = Located({key: value})
        result.line = node.start_mark.line + 1
        return result

    return construct


_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
_Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_SEQUENCE_TAG, _sequence)
for _name in TAGS:
    _Loader.add_constructor(f"!{_name}", _tag(_name))


def read_document(path: str, what: str) -> Any:
    """The parsed file; ImportProblem naming `path` when it is not readable as `what`."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise ImportProblem(f"{path}: cannot read: {exc.strerror or exc}") from None
    if len(data) > MAX_BYTES:
        raise ImportProblem(f"{path}: larger than 1 MiB: not {what}")
    if b"\x00" in data:
        raise ImportProblem(f"{path}: a binary file, not {what}")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        raise ImportProblem(f"{path}: not UTF-8 text, not {what}") from None
    try:
        return _parse(text, path, what)
    except ImportProblem as problem:
        if text.lstrip().startswith(("{", "[")):  # JSON that YAML's stricter rules refuse
            import json

            try:
                return json.loads(text)
            except (ValueError, RecursionError):
                pass
        raise problem from None


def _parse(text: str, path: str, what: str) -> Any:
    loader: _Loader | None = None
    try:
        loader = _Loader(text)  # the reader checks the characters here already
        node = loader.get_single_node()
        if node is None:
            raise ImportProblem(f"{path}: empty, not {what}")
        if _count(node, 0) > MAX_NODES:
            raise ImportProblem(f"{path}: expands to more than {MAX_NODES} values (an alias "
                                "bomb?)")
        return loader.construct_document(node)
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        where = f":{mark.line + 1}" if mark is not None else ""
        raise ImportProblem(f"{path}{where}: not {what}: "
                            f"{getattr(exc, 'problem', None) or exc}") from None
    except (ValueError, OverflowError) as exc:  # e.g. a date that does not exist: 2026-02-30
        raise ImportProblem(f"{path}: not {what}: {exc}") from None
    except RecursionError:
        raise ImportProblem(f"{path}: nested too deep, not {what}") from None
    finally:
        if loader is not None:
            loader.dispose()


def read_template(path: str, what: str) -> dict[str, Any]:
    """A CloudFormation-shaped document: a mapping with a mapping of Resources."""
    template = read_document(path, what)
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise ImportProblem(f"{path}: not {what} (no Resources)")
    return template


def _count(node: yaml.Node, seen: int) -> int:
    """Values once aliases are expanded, stopping past the bound."""
    seen += 1
    if seen > MAX_NODES:
        return seen
    if isinstance(node, yaml.MappingNode):
        for key, value in node.value:
            seen = _count(value, _count(key, seen))
            if seen > MAX_NODES:
                break
    elif isinstance(node, yaml.SequenceNode):
        for item in node.value:
            seen = _count(item, seen)
            if seen > MAX_NODES:
                break
    return seen


def line_of(value: Any, default: int = 0) -> int:
    return int(getattr(value, "line", 0) or default)
