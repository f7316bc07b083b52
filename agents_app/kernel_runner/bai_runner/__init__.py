"""The kernel runner: the program the agent starts inside every kernel container.

Standard library only, Python >= 3.8; it imports nothing of the project. The runtime bind-mounts
this directory read-only into the container and starts it as `python3 <dir>` (`__main__.py`).
Annotations are never evaluated (postponed), so the modern spellings in them are fine on 3.8;
runtime expressions stick to 3.8 syntax.

Modules: `protocol` (limits, errors, configuration), `connection` (authentication, dispatch),
`execution` (query and batch runs), `pty` (shells), `services` (service apps), `files`
(session files), `main` (start-up).
"""
