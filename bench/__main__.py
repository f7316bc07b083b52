"""`python -m bench <name> [args...]`: run bench/<name>.py's `main(argv)`."""

from __future__ import annotations

import importlib
import pkgutil
import signal
import sys
from pathlib import Path


def available() -> list[str]:
    return sorted(
        m.name for m in pkgutil.iter_modules([str(Path(__file__).parent)]) if m.name[0] != "_"
    )


def _exit_on_sigterm(signum: int, frame: object) -> None:
    # a benchmark stopped with SIGTERM (timeout, kill) unwinds like Ctrl-C, so the stacks and
    # throwaway databases it started are torn down by their `finally` blocks
    raise SystemExit(128 + signum)


def main(argv: list[str]) -> int:
    signal.signal(signal.SIGTERM, _exit_on_sigterm)
    if len(argv) < 2 or argv[1] not in available():
        print(f"usage: python -m bench <{'|'.join(available())}> [args...]", file=sys.stderr)
        return 2
    module = importlib.import_module(f"bench.{argv[1]}")
    result: int = module.main(argv[2:])
    return result


if __name__ == "__main__":
    raise SystemExit(main(sys.argv))
