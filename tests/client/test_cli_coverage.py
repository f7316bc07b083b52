"""docs/compat/cli-coverage.md stays true: it lists every command of the official client outside
the groups this project leaves out, and every command it marks `tested` is driven by the test
file it names: a `*cli(...)` call, or an argument list starting with the client, whose first
string arguments are the command's words."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

import pytest

from tests.helpers.paths import REPO_ROOT

pytestmark = pytest.mark.client

DOC = REPO_ROOT / "docs" / "compat" / "cli-coverage.md"
LEFT_OUT = ("v2", "vfolder", "model", "service", "deployment")
STATUSES = {"tested", "untested", "missing", "client-side", "client-bug"}
ROW = re.compile(r"^\| `([^`]+)` \| ([a-z-]+) \| (.*) \|$")

LIST_COMMANDS = """
import click
from ai.backend.cli.__main__ import main
ctx = click.Context(main)
def walk(cmd, words):
    if isinstance(cmd, click.Group):
        for name in cmd.list_commands(ctx):
            walk(cmd.get_command(ctx, name), words + [name])
    else:
        print(" ".join(words))
walk(main, [])
"""


def client_commands(official_client: Path) -> set[str]:
    python = official_client.parent / "python"
    listed = subprocess.run(
        [str(python), "-c", LIST_COMMANDS], capture_output=True, text=True, check=True, timeout=120
    ).stdout.split("\n")
    return {line for line in listed if line and line.split()[0] not in LEFT_OUT}


def doc_rows() -> dict[str, tuple[str, str]]:
    rows: dict[str, tuple[str, str]] = {}
    for line in DOC.read_text().splitlines():
        match = ROW.match(line.strip())
        if match:
            command, status, where = match.groups()
            assert command not in rows, f"{command} is listed twice"
            rows[command] = (status, where.strip())
    return rows


def cli_call_pattern(command: str) -> str:
    """A call of a `*cli(...)` helper whose first string arguments are the command's words (the
    arguments before them, such as the stack and the credentials, are names), or an argument
    list that starts with the client's path and then the words."""
    words = r",\s*".join(f'"{re.escape(word)}"' for word in command.split())
    return r"(?:cli\((?:[^()\"]*?,)?|str\(official_client\),)\s*" + words + r"\s*[,)\]]"


def test_every_command_is_listed_once(official_client: Path) -> None:
    commands = client_commands(official_client)
    rows = doc_rows()
    assert sorted(commands - rows.keys()) == [], "commands missing from cli-coverage.md"
    assert sorted(rows.keys() - commands) == [], "rows naming no command of the client"
    assert {status for status, _ in rows.values()} <= STATUSES


def test_tested_commands_name_a_test_that_drives_them() -> None:
    problems = []
    for command, (status, where) in doc_rows().items():
        if status != "tested":
            continue
        path = REPO_ROOT / where.strip("`")
        pattern = cli_call_pattern(command)
        if not path.is_file() or not re.search(pattern, path.read_text()):
            problems.append(f"{command}: {where} does not run it")
    assert problems == []
