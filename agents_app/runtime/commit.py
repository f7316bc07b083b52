"""Saving a running kernel as a new local image (`commit_kernel`), for the Docker runtime.

`docker commit` alone is not enough, for two reasons:
- a container's config is merged into the image it commits (its environment, the runner secret
  included, and the kernel's own labels), so the commit gets the kernel image's config back,
  with every key only the container had blanked (the engine appends keys the given config lacks,
  so they cannot simply be left out);
- `/home/work` is a bind mount (the kernel's scratch folder), which a commit never contains, and
  it is where a kernel's user writes: its content is copied (through the engine, so ownership and
  modes are kept) to `WORKDIR_SEED` in a helper container of the first commit, which is committed
  again. A kernel's `/home/work` is a fresh bind mount that would hide anything the image has
  there, so the image carries the copy elsewhere and its label `ai.backend.commit.workdir` tells
  the runtime to copy it into the new kernel's scratch folder before the kernel starts
  (`workdir_seed`).
The first commit stays untagged under the final image, so removing the final image removes both.
"""

from __future__ import annotations

import contextlib
import logging
import tarfile
import tempfile
from collections.abc import Callable, Mapping
from typing import IO, Any

from docker import DockerClient
from docker.errors import APIError, NotFound
from docker.models.containers import Container
from docker.models.images import Image

from .errors import CommitFailed
from .models import LABEL_COMMIT_TASK_ID, LABEL_COMMIT_WORKDIR

log = logging.getLogger(__name__)

# What a committed image never takes from the kernel's home: its SSH keys are the owner's.
WORKDIR_EXCLUDED = (".ssh",)
SPOOL_BYTES = 64 * 1024 * 1024
WORKDIR_SEED = "/opt/bai-commit/work"  # the committed /home/work, inside the image
HELPER_TIMEOUT_SECONDS = 120

Progress = Callable[[int, str], None]


def commit_config(
    *,
    image_config: Mapping[str, Any],
    container_config: Mapping[str, Any],
    labels: Mapping[str, str],
) -> dict[str, Any]:
    """The config of the committed image: the kernel image's (its command, user, environment and
    labels, the `ai.backend.*` ones the catalog reads included) plus `labels`, with every
    environment variable or label only the container had set to empty."""
    image_env = list(image_config.get("Env") or [])
    image_keys = {item.split("=", 1)[0] for item in image_env}
    blanked_env = [
        f"{key}="
        for key in dict.fromkeys(
            item.split("=", 1)[0] for item in container_config.get("Env") or []
        )
        if key not in image_keys
    ]
    image_labels = dict(image_config.get("Labels") or {})
    new_labels = {
        key: "" for key in container_config.get("Labels") or {} if key not in image_labels
    }
    new_labels.update(image_labels)
    new_labels.update(labels)
    config: dict[str, Any] = {
        key: image_config[key]
        for key in ("Cmd", "Entrypoint", "WorkingDir", "User", "ExposedPorts", "StopSignal")
        if image_config.get(key) is not None
    }
    config["Env"] = image_env + blanked_env
    new_labels[LABEL_COMMIT_WORKDIR] = WORKDIR_SEED
    config["Labels"] = new_labels
    return config


def _workdir_archive(container: Container, workdir: str, *, rename_to: str) -> IO[bytes]:
    """A tar of `workdir` with entries named `<rename_to>/...`, without the excluded entries."""
    raw = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (closed below)
    chunks, _ = container.get_archive(workdir)
    for chunk in chunks:
        raw.write(chunk)
    raw.seek(0)
    base = workdir.rstrip("/").rsplit("/", 1)[-1]
    excluded = tuple(f"{base}/{name}" for name in WORKDIR_EXCLUDED)
    filtered = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (returned)
    with (
        tarfile.open(fileobj=raw, mode="r|") as source,
        tarfile.open(fileobj=filtered, mode="w|") as target,
    ):
        for member in source:
            if member.name in excluded or member.name.startswith(tuple(f"{e}/" for e in excluded)):
                continue
            member.name = rename_to + member.name[len(base) :]
            if member.islnk() and member.linkname.startswith(base):
                member.linkname = rename_to + member.linkname[len(base) :]
            target.addfile(member, source.extractfile(member) if member.isfile() else None)
    raw.close()
    filtered.seek(0)
    return filtered


def container_commit(
    client: DockerClient,
    container: Container,
    *,
    repository: str,
    tag: str,
    labels: Mapping[str, str],
    workdir: str,
    progress: Progress | None = None,
) -> Image:
    """Commit `container` and its `workdir` as `repository:tag` (see the module docstring)."""
    report = progress or (lambda step, message: None)
    container.reload()
    if (container.attrs.get("State") or {}).get("Status") != "running":
        raise CommitFailed(f"container {container.name} is not running")
    container_config = container.attrs.get("Config") or {}
    try:
        source = client.images.get(str(container_config.get("Image", "")))
    except NotFound as exc:
        raise CommitFailed(f"the kernel's image {container_config.get('Image')} is gone") from exc
    config = commit_config(
        image_config=source.attrs.get("Config") or {},
        container_config=container_config,
        labels=labels,
    )
    report(0, "committing the container")
    try:
        stage = container.commit(conf=config, pause=True)
    except APIError as exc:
        raise CommitFailed(f"docker commit failed: {exc.explanation or exc}") from exc
    helper: Container | None = None
    try:
        report(1, f"copying {workdir}")
        # The helper empties the seed folder an earlier commit left (files deleted since must
        # not come back) and makes its parent, then the new copy goes in.
        seed_parent, seed_base = WORKDIR_SEED.rsplit("/", 1)
        helper = client.containers.run(
            stage.id,
            command=["/bin/sh", "-c", f"rm -rf {WORKDIR_SEED} && mkdir -p {seed_parent}"],
            user="0:0",
            network_mode="none",
            detach=True,
        )
        exit_status = helper.wait(timeout=HELPER_TIMEOUT_SECONDS).get("StatusCode")
        if exit_status != 0:
            raise CommitFailed(f"preparing {WORKDIR_SEED} failed (exit {exit_status})")
        with _workdir_archive(container, workdir, rename_to=seed_base) as archive:
            copied = helper.put_archive(seed_parent, archive)
        if not copied:
            raise CommitFailed(f"copying {workdir} into the image failed")
        report(2, f"writing {repository}:{tag}")
        image = helper.commit(repository=repository, tag=tag, conf=config)
    except (APIError, NotFound, tarfile.TarError, OSError) as exc:
        with contextlib.suppress(APIError, NotFound):
            client.images.remove(stage.id, noprune=False)
        raise CommitFailed(f"committing {workdir} failed: {exc}") from exc
    except BaseException:
        with contextlib.suppress(APIError, NotFound):
            client.images.remove(stage.id, noprune=False)
        raise
    finally:
        if helper is not None:
            with contextlib.suppress(APIError, NotFound):
                helper.remove(force=True)
    log.info("kernel committed", extra={"image": f"{repository}:{tag}", "image_id": image.id})
    return image


def workdir_seed(container: Container, *, seed: str, workdir: str) -> None:
    """Copy a committed image's `/home/work` (at `seed` in the image) into the kernel's own
    `workdir` mount; `container` is created, not started yet."""
    if seed != WORKDIR_SEED:
        raise CommitFailed(f"unexpected {LABEL_COMMIT_WORKDIR} label: {seed!r}")
    parent, base = workdir.rstrip("/").rsplit("/", 1)
    try:
        with _workdir_archive(container, seed, rename_to=base) as archive:
            copied = container.put_archive(parent or "/", archive)
    except (APIError, NotFound, tarfile.TarError, OSError) as exc:
        raise CommitFailed(f"restoring the committed {workdir} failed: {exc}") from exc
    if not copied:
        raise CommitFailed(f"restoring the committed {workdir} failed")


def committed_image(client: DockerClient, ref: str, task_id: str) -> Image | None:
    """The image an earlier delivery of the same commit made (None if there is none); another
    image under that name is refused, never replaced."""
    try:
        image = client.images.get(ref)
    except NotFound:
        return None
    if (image.labels or {}).get(LABEL_COMMIT_TASK_ID) == task_id:
        return image
    raise CommitFailed(f"image {ref} already exists")
