"""Shared setup of the folder transfer benchmarks: the web role, a volume, a folder, a big file
and the official client (backend.ai-client 26.9.6 in `.data/client-venv`, installed if missing)."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from bench._stack import LiveStack, Owner, owner_create, setup_django, throwaway_database

CLIENT_VERSION = "26.9.6"
HOST = "local:volume1"
FOLDER = "benchvf"


def official_client() -> Path:
    from backendai_site.config import get_config

    venv = get_config().data_dir / "client-venv"
    cli = venv / "bin" / "backend.ai"
    marker = venv / f".installed-{CLIENT_VERSION}"
    if not marker.exists():
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run(
            [str(venv / "bin" / "pip"), "install", "-q", f"backend.ai-client=={CLIENT_VERSION}"],
            check=True,
        )
        marker.touch()
    return cli


@dataclass
class TransferBench:
    stack: LiveStack
    owner: Owner
    cli: Path
    work: Path  # the client's working directory
    volume_path: Path
    folder_root: Path

    def client(self, *args: str, cwd: Path | None = None) -> float:
        """Seconds one official-client command took (it must succeed)."""
        env = {
            "PATH": f"{self.cli.parent}:/usr/bin:/bin",
            "HOME": str(self.work),
            "BACKEND_ENDPOINT": self.stack.url,
            "BACKEND_ENDPOINT_TYPE": "api",
            "BACKEND_ACCESS_KEY": self.owner.access_key,
            "BACKEND_SECRET_KEY": self.owner.secret_key,
        }
        started = time.perf_counter()
        result = subprocess.run(
            [str(self.cli), *args], cwd=cwd or self.work, env=env, capture_output=True, text=True
        )
        elapsed = time.perf_counter() - started
        if result.returncode != 0:
            raise RuntimeError(
                f"backend.ai {' '.join(args)} failed:\n{result.stdout}{result.stderr}"
            )
        return elapsed


def token(bench: TransferBench, op: str, body: dict[str, object]) -> tuple[str, str]:
    """(token, url) from request-upload / request-download, signed as the owner."""
    from bench._stack import http_call, signed_headers
    from storage_app.models import VFolder

    vfid = VFolder.objects.get(name=FOLDER).pk.hex
    rel_url = f"/folders/{vfid}/request-{op}"
    host = bench.stack.url.split("://", 1)[1]
    headers = signed_headers(
        bench.owner, method="POST", rel_url=rel_url, host=host, content_type="application/json"
    )
    status, raw = http_call(
        bench.stack.url + rel_url, method="POST", headers=headers, body=json.dumps(body).encode()
    )
    if status != 200:
        raise RuntimeError(f"request-{op} answered {status}: {raw[:300]!r}")
    data = json.loads(raw)
    return str(data["token"]), str(data["url"])


def client_startup(bench: TransferBench) -> float:
    """Median seconds of a trivial client command (`vfolder list-hosts`): its fixed cost."""
    return statistics.median(bench.client("vfolder", "list-hosts") for _ in range(3))


def make_file(path: Path, size: int) -> None:
    block = os.urandom(16 * 1024 * 1024)
    with path.open("wb") as out:
        left = size
        while left > 0:
            out.write(block[: min(left, len(block))])
            left -= len(block)


def drop_caches() -> None:
    """Flush dirty pages so each timed run starts from the same state."""
    os.sync()


@contextlib.contextmanager
def transfer_bench(name: str, *, workers: int = 2) -> Iterator[TransferBench]:
    setup_django()
    cli = official_client()
    with throwaway_database(name) as database_url:
        from storage_app.models import StorageVolume

        base = Path(
            tempfile.mkdtemp(prefix=f"bai-{name}-", dir=Path(__file__).parent.parent / ".data")
        )
        base.chmod(0o755)  # the nginx baseline's worker (nobody) reads the same files
        volume_path = base / "volume1"
        work = base / "client"
        volume_path.mkdir()
        work.mkdir()
        StorageVolume.objects.update_or_create(
            name=HOST, defaults={"backend": "vfs", "mount_path": str(volume_path)}
        )
        owner = owner_create(f"bench-{name}@example.com")
        stack = LiveStack(database_url=database_url)
        try:
            stack.start_web(workers=workers)
            stack.wait_web()
            bench = TransferBench(
                stack=stack, owner=owner, cli=cli, work=work, volume_path=volume_path,
                folder_root=volume_path,
            )  # fmt: skip
            bench.client("vfolder", "create", FOLDER, HOST)
            from storage_app.models import VFolder
            from storage_app.services.volumes import vfolder_root

            bench.folder_root = vfolder_root(VFolder.objects.get(name=FOLDER))
            yield bench
        except BaseException:
            print(stack.logs(), file=sys.stderr)
            raise
        finally:
            stack.stop()
            shutil.rmtree(base, ignore_errors=True)
