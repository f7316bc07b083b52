"""Started as `python3 /opt/bai/bai_runner` (a directory): import the package and run it.

Run as a directory, Python puts the directory itself first on `sys.path`, where its modules would
shadow the standard library (`pty`); the parent goes there instead, so only the package name is
visible to the code the runner executes.
"""

from __future__ import annotations

import os
import sys

if __package__:
    from .main import main
else:
    sys.path[0] = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    from bai_runner.main import main  # type: ignore[no-redef]

sys.exit(main())
