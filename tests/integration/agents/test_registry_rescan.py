"""Registry rescan through the Docker Registry HTTP API v2, against a real loopback registry."""

from __future__ import annotations

import pytest

from agents_app.models import ContainerRegistry, Image
from agents_app.services.registry import RegistryClient, registry_rescan
from tests.helpers.registry import LoopbackRegistry, docker, import_labelled_image

pytestmark = [pytest.mark.docker, pytest.mark.django_db]

KERNEL_LABELS = {
    "ai.backend.kernelspec": "1",
    "ai.backend.service-ports": "ttyd:http:7681,web:http:[8080,8081]",
    "ai.backend.resource.min.cpu": "1",
    "ai.backend.resource.min.mem": "256m",
}


@pytest.fixture
def registry_with_images(loopback_registry: LoopbackRegistry) -> LoopbackRegistry:
    """The registry holding one kernel image and one plain image, pushed with `docker push`."""
    host = loopback_registry.host
    kernel_ref = f"{host}/bai/testkernel:1.0"
    plain_ref = f"{host}/library/plain:latest"
    import_labelled_image(kernel_ref, KERNEL_LABELS)
    import_labelled_image(plain_ref, {"maintainer": "nobody"})
    try:
        docker("push", kernel_ref)
        docker("push", plain_ref)
    finally:
        docker("rmi", kernel_ref, plain_ref)
    return loopback_registry


class TestRegistryClient:
    def test_lists_repositories_tags_and_labels(
        self, registry_with_images: LoopbackRegistry
    ) -> None:
        client = RegistryClient(url=registry_with_images.url)

        repositories = sorted(client.repositories(page_size=1))  # forces Link pagination
        (image,) = client.images("bai/testkernel", "1.0")

        assert repositories == ["bai/testkernel", "library/plain"]
        assert client.tags("bai/testkernel") == ["1.0"]
        assert image.labels == KERNEL_LABELS
        assert image.digest.startswith("sha256:")
        assert image.architecture == "x86_64"


class TestRegistryRescan:
    def test_kernel_images_enter_the_catalog(self, registry_with_images: LoopbackRegistry) -> None:
        registry = ContainerRegistry.objects.create(
            name=registry_with_images.host, url=registry_with_images.url
        )

        result = registry_rescan(registry=registry)

        image = Image.objects.get()
        assert (result.created, result.skipped, result.errors) == (1, 1, [])
        assert image.canonical == f"{registry_with_images.host}/bai/testkernel:1.0"
        assert image.service_ports == [
            {"name": "ttyd", "protocol": "http", "ports": [7681]},
            {"name": "web", "protocol": "http", "ports": [8080, 8081]},
        ]
        assert image.min_resources == {"cpu": "1", "mem": str(256 << 20)}

    def test_rescan_is_idempotent_and_respects_the_project(
        self, registry_with_images: LoopbackRegistry
    ) -> None:
        registry = ContainerRegistry.objects.create(
            name=registry_with_images.host, url=registry_with_images.url, project="library"
        )

        first = registry_rescan(registry=registry)
        registry.project = ""
        registry.save(update_fields=["project"])
        registry_rescan(registry=registry)
        again = registry_rescan(registry=registry)

        assert (first.created, first.skipped) == (0, 1)
        assert (again.created, again.updated) == (0, 1)
        assert Image.objects.count() == 1

    def test_an_unreachable_registry_reports_an_error(self) -> None:
        from agents_app.services.registry import registries_rescan

        registry = ContainerRegistry.objects.create(name="127.0.0.1:9", url="http://127.0.0.1:9")

        results = registries_rescan(registries=[registry])

        assert results["127.0.0.1:9"].errors
