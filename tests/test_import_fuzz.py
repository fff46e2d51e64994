"""Fuzzing every `deployer import` verb in one process: thousands of mutated templates,
appspecs, deployment groups and serverless.yml files (lines dropped, doubled, swapped,
junk characters, values replaced; nodes of the parsed document swapped for values of
the wrong kind; one kind of file given where another is read). The answer is always
plans (exit 0) or `FILE: message` (exit 2): never a traceback, never "unexpected error",
and never the CLI's last-resort guard (which would hide an importer that assumed a
shape)."""

from __future__ import annotations

import copy
import json
import random
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from deployer.cli.main import main
from tests.conftest import ROOT
from tests.test_plan_fuzz import _mutate

CORPUS = ROOT / "tests" / "import_corpus"
TEMPLATES = ["sam-app.yaml", "sam-app.json", "sam-processed.yaml", "cdk-stack.template.json"]
WRONG_KINDS: list[Any] = [None, True, 0, -1, 3.5, "", "x", "${self:nope}", "!Ref", [], [1, 2],
                          {}, {"Ref": "Nope"}, {"Fn::GetAtt": []}, {"Fn::Sub": [1, 2]},
                          {"Fn::If": ["c"]}, "2026-02-30", "${opt:stage, ${env:X}}",
                          {"Ref": None}, [{"name": None}], "CodeDeployDefault.ECSAllAtOnce"]
ROUNDS = 500  # about 625 imports, each kind through each verb: ~5 s here (soak: 2,000)


def run(*argv: str, capsys: pytest.CaptureFixture[str]) -> tuple[int, str]:
    try:
        main(list(argv))
    except SystemExit as exc:
        code = int(exc.code or 0)
    else:  # main always exits
        code = -1
    return code, capsys.readouterr().err


def nodes(value: Any, path: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    yield path
    if isinstance(value, dict):
        for key, item in value.items():
            yield from nodes(item, (*path, key))
    elif isinstance(value, list):
        for index, item in enumerate(value):
            yield from nodes(item, (*path, index))


def replace(document: Any, path: tuple[Any, ...], value: Any) -> Any:
    if not path:
        return value
    container = document
    for key in path[:-1]:
        container = container[key]
    if value is DELETE and isinstance(container, dict):
        del container[path[-1]]
    else:
        container[path[-1]] = None if value is DELETE else value
    return document


DELETE = object()


def structural(text: str, rng: random.Random) -> str:
    """The parsed document with one to three nodes swapped for a value of another kind
    (or deleted), as JSON (which every reader takes)."""
    from deployer.importers.template import ImportProblem, read_document

    source = CORPUS / "_fuzz_source"
    source.write_text(text)
    try:
        document = json.loads(json.dumps(read_document(str(source), "x"), default=str))
    except ImportProblem:
        return text
    finally:
        source.unlink()
    for _ in range(rng.randint(1, 3)):
        paths = list(nodes(document))
        path = rng.choice(paths[1:] or paths)
        value = rng.choice([*WRONG_KINDS, DELETE])
        document = replace(document, path, value if value is DELETE else copy.deepcopy(value))
    return json.dumps(document)


def mutant(name: str, rng: random.Random) -> str:
    text = (CORPUS / name).read_text()
    return structural(text, rng) if rng.random() < 0.6 else _mutate(text, rng)


def check(code: int, err: str, files: list[str]) -> None:
    assert code in (0, 2), err
    assert "unexpected error" not in err and "Traceback" not in err, err
    assert "cannot read this file's structure" not in err, err
    if code == 2:
        problem = [line for line in err.splitlines() if ": warning: " not in line]
        assert problem and any(problem[0].startswith(f) for f in files), err


@pytest.mark.parametrize("rounds", [ROUNDS, pytest.param(4 * ROUNDS, marks=pytest.mark.slow)])
def test_every_import_verb_answers_any_input_with_plans_or_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], rounds: int) -> None:
    rng = random.Random(20261205 + rounds)
    out = str(tmp_path / "out")
    first, second = tmp_path / "a.yaml", tmp_path / "b.json"
    for round_number in range(rounds):
        kind = round_number % 4
        if kind == 0:  # a template through sam and cloudformation
            first.write_text(mutant(rng.choice(TEMPLATES), rng))
            for verb in ("sam", "cloudformation"):
                code, err = run("import", verb, str(first), "--out", out,
                                *(["--combine", "app"] if rng.random() < 0.3 else []),
                                capsys=capsys)
                check(code, err, [str(first)])
        elif kind == 1:  # serverless.yml
            first.write_text(mutant("serverless.yml", rng))
            stage = ["--stage", rng.choice(["dev", "prod", "qa"])] if rng.random() < 0.5 else []
            code, err = run("import", "serverless", str(first), *stage, "--out", out,
                            capsys=capsys)
            check(code, err, [str(first)])
        elif kind == 2:  # an appspec and a deployment group, one of them mutated
            first.write_text(mutant("appspec.yaml", rng))
            second.write_text(mutant("deployment-group.json", rng))
            if rng.random() < 0.5:
                first.write_text((CORPUS / "appspec.yaml").read_text())
            else:
                second.write_text((CORPUS / "deployment-group.json").read_text())
            code, err = run("import", "codedeploy", "--appspec", str(first),
                            "--deployment-group", str(second), "--out", out, capsys=capsys)
            check(code, err, [str(first), str(second)])
        else:  # one kind of file where another is read
            name = rng.choice([*TEMPLATES, "serverless.yml", "appspec.yaml",
                               "deployment-group.json"])
            first.write_text((CORPUS / name).read_text())
            second.write_text((CORPUS / rng.choice(TEMPLATES)).read_text())
            verb = rng.choice(["sam", "cloudformation", "serverless", "codedeploy"])
            args = (["--appspec", str(second), "--deployment-group", str(first)]
                    if verb == "codedeploy" and rng.random() < 0.5 else
                    ["--appspec", str(first), "--deployment-group", str(second)]
                    if verb == "codedeploy" else [str(first)])
            code, err = run("import", verb, *args, "--out", out, capsys=capsys)
            check(code, err, [str(first), str(second)])


@pytest.mark.parametrize("verb", ["sam", "cloudformation", "serverless"])
@pytest.mark.parametrize("content", [b"", b"\xff\xfe junk", b"[1, 2", b"{}", b"null",
                                     b"\x00binary", b"a: " + b"x" * (10 << 20),
                                     b"Resources: []", b"functions: 3"])
def test_what_a_verb_does_not_read_is_exit_2_naming_the_file(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], verb: str, content: bytes) -> None:
    path = tmp_path / "input.yaml"
    path.write_bytes(content)
    code, err = run("import", verb, str(path), "--out", str(tmp_path / "out"), capsys=capsys)
    assert code == 2, err
    assert err.startswith(f"{path}"), err
    assert not (tmp_path / "out").exists()


def test_a_sam_template_given_as_the_appspec_is_exit_2(
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, err = run("import", "codedeploy", "--appspec", str(CORPUS / "sam-app.yaml"),
                    "--deployment-group", str(CORPUS / "deployment-group.json"),
                    "--out", str(tmp_path), capsys=capsys)
    assert code == 2, err
    assert err.startswith(f"{CORPUS / 'sam-app.yaml'}: not an ECS appspec"), err
