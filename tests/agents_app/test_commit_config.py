"""The config a committed kernel image gets (`agents_app.runtime.commit.commit_config`): the
kernel image's own, never what only the container had (its runner secret, its kernel labels)."""

from __future__ import annotations

from agents_app.runtime.commit import commit_config

IMAGE_CONFIG = {
    "Env": ["LANG=C.UTF-8", "HOME=/home/work"],
    "Cmd": ["/bin/bash"],
    "User": "work",
    "WorkingDir": "/home/work",
    "Labels": {"ai.backend.kernelspec": "1", "ai.backend.runtime-path": "/usr/bin/python3",
               "org.opencontainers.image.title": "kernel"},
}  # fmt: skip
CONTAINER_CONFIG = {
    "Env": ["LANG=C.UTF-8", "HOME=/home/work", "BAI_RUNNER_SECRET=s3cret", "MY_VAR=private"],
    "Cmd": ["python3", "/opt/bai/bai_runner"],
    "User": "1000:1000",
    "Labels": {"ai.backend.kernelspec": "1", "ai.backend.kernel-id": "k1",
               "ai.backend.owner-access-key": "AKIA"},
}  # fmt: skip


def test_the_container_only_environment_is_blanked_not_kept() -> None:
    config = commit_config(image_config=IMAGE_CONFIG, container_config=CONTAINER_CONFIG, labels={})

    assert config["Env"] == ["LANG=C.UTF-8", "HOME=/home/work", "BAI_RUNNER_SECRET=", "MY_VAR="]
    assert "s3cret" not in repr(config) and "private" not in repr(config)


def test_the_image_keeps_its_command_user_and_backend_labels() -> None:
    config = commit_config(
        image_config=IMAGE_CONFIG,
        container_config=CONTAINER_CONFIG,
        labels={"ai.backend.commit.task-id": "t1"},
    )

    assert (config["Cmd"], config["User"], config["WorkingDir"]) == (
        ["/bin/bash"], "work", "/home/work",
    )  # fmt: skip
    assert config["Labels"] == {
        "ai.backend.kernelspec": "1",
        "ai.backend.runtime-path": "/usr/bin/python3",
        "org.opencontainers.image.title": "kernel",
        "ai.backend.kernel-id": "",
        "ai.backend.owner-access-key": "",
        "ai.backend.commit.task-id": "t1",
        "ai.backend.commit.workdir": "/opt/bai-commit/work",
    }
