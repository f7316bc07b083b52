"""Checks of an official-client run: it succeeded, or it was refused, and neither crashed."""

from __future__ import annotations

import subprocess
from typing import Any


def _output(result: subprocess.CompletedProcess[Any]) -> str:
    return str(result.stdout) + str(result.stderr)


def cli_ok(result: subprocess.CompletedProcess[Any]) -> str:
    """The command exited 0 without a traceback; its stdout and stderr (the CLI prints its
    "done" lines on stderr)."""
    output = _output(result)
    assert result.returncode == 0, output
    assert "Traceback" not in output, output
    return output


def cli_refused(result: subprocess.CompletedProcess[Any]) -> str:
    """The command failed cleanly: a non-zero exit with the server's message, no traceback."""
    output = _output(result)
    assert result.returncode != 0, output
    assert "Traceback" not in output, output
    return output
