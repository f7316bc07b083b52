"""What a batch run does for a phase left at "*" (the client's "use the default").

`backend.ai run FILE...` uploads the files and sends clean/build/exec "*" unless --build/--exec
are given. As the reference's Python kernel does, the build runs `pip install --user -e .` when
there is a setup.py, and the exec runs main.py when there is one. Without main.py the runner
also runs the one script uploaded since the previous batch run (`python3 hello.py`), so that
`run hello.py` runs it; with none, or several, it says so and fails (127) instead of doing
nothing.
"""

from __future__ import annotations

import os
import shlex
import threading

from . import protocol

NOT_FOUND_EXIT_CODE = 127
# How a script is run, by its suffix.
INTERPRETERS = {".py": "python3", ".sh": "/bin/sh"}

_lock = threading.Lock()
# (annotations are never evaluated: `from __future__ import annotations` keeps 3.8 working)
_uploaded: list[str] = []


def note_upload(path: str) -> None:
    """Record a file written through `file-write` (relative to the work directory)."""
    relative = os.path.relpath(path, os.path.realpath(protocol.CONFIG.workdir))
    with _lock:
        if relative not in _uploaded:
            _uploaded.append(relative)


def take_uploads() -> list[str]:
    """The files uploaded since the previous batch run (and forget them)."""
    with _lock:
        taken = list(_uploaded)
        _uploaded.clear()
    return taken


def _exists(relative: str) -> bool:
    return os.path.isfile(os.path.join(protocol.CONFIG.workdir, relative))


def default_build() -> str:
    if _exists("setup.py"):
        return "python3 -m pip install --user -e ."
    return ""


def default_exec(uploads: list[str]) -> tuple[str, str | None]:
    """(command, None), or ("", why nothing can be run)."""
    if _exists("main.py"):
        return "python3 main.py", None
    scripts = [
        path for path in uploads if os.path.splitext(path)[1] in INTERPRETERS and _exists(path)
    ]
    if len(scripts) == 1:
        path = scripts[0]
        return f"{INTERPRETERS[os.path.splitext(path)[1]]} {shlex.quote(path)}", None
    if scripts:
        return "", (
            f"several scripts were uploaded ({', '.join(scripts)}); "
            "name the one to run with --exec, or upload a main.py"
        )
    return "", "nothing to execute: no main.py and no uploaded script; give --exec"
