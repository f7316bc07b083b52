"""Saving a running kernel as a new local image (`commit_kernel`), for the Docker runtime.

`docker commit` alone is not enough, for two reasons:
- a container's config is merged into the image it commits (its environment, the runner secret
  included, and the kernel's own labels), so the commit gets the kernel image's config back,
  with every key only the container had blanked (the engine appends keys the given config lacks,
  so they cannot simply be left out);
- `/home/work` is a bind mount (the kernel's scratch folder), which a commit never contains, and
  it is where a kernel's user writes: its content is copied (through the engine, so ownership and
  modes are kept) into a stopped helper container of the first commit, which is committed again.
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
from .models import LABEL_COMMIT_TASK_ID

log = logging.getLogger(__name__)

# What a committed image never takes from the kernel's home: its SSH keys are the owner's.
WORKDIR_EXCLUDED = (".ssh",)
SPOOL_BYTES = 64 * 1024 * 1024

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
    config["Labels"] = new_labels
    return config


def _workdir_archive(container: Container, workdir: str) -> IO[bytes]:
    """A tar of `workdir` (entries named `<basename>/...`) without the excluded entries."""
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
        helper = client.containers.create(stage.id, command=["true"], network_mode="none")
        parent = workdir.rstrip("/").rsplit("/", 1)[0] or "/"
        with _workdir_archive(container, workdir) as archive:
            copied = helper.put_archive(parent, archive)
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
