"""Container registries: scanning the Docker Registry HTTP API v2 into the image catalog.

The client speaks only what a catalog scan needs: `/v2/_catalog` (paginated with `Link`),
`/v2/<name>/tags/list`, `/v2/<name>/manifests/<ref>` (OCI and Docker v2 manifests and indexes,
following per-platform entries), and the config blob for labels and architecture. Basic auth and
the Bearer token challenge are supported.
"""

from __future__ import annotations

import base64
import json
import logging
import re
import ssl
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

from agents_app.errors import RegistryError
from agents_app.imageref import normalize_architecture
from agents_app.models import ContainerRegistry
from agents_app.services.images import (
    KERNELSPEC_LABEL,
    InvalidImageLabels,
    ScanResult,
    image_aliases_ensure_defaults,
    image_upsert,
)

log = logging.getLogger(__name__)

MANIFEST_V2 = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_LIST_V2 = "application/vnd.docker.distribution.manifest.list.v2+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_INDEX = "application/vnd.oci.image.index.v1+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, MANIFEST_LIST_V2, OCI_MANIFEST, MANIFEST_V2))
INDEX_TYPES = frozenset({OCI_INDEX, MANIFEST_LIST_V2})
_NEXT_LINK_RE = re.compile(r'<([^>]+)>;\s*rel="?next"?')
_CHALLENGE_PARAM_RE = re.compile(r'(\w+)="([^"]*)"')


@dataclass(frozen=True, slots=True)
class RegistryImage:
    repository: str
    tag: str
    architecture: str
    digest: str
    labels: dict[str, str]
    size_bytes: int


@dataclass
class RegistryClient:
    """A small synchronous Docker Registry HTTP API v2 client."""

    url: str
    username: str = ""
    password: str = ""
    ssl_verify: bool = True
    timeout: float = 30.0
    _token: str | None = field(default=None, repr=False)

    @classmethod
    def for_registry(cls, registry: ContainerRegistry) -> RegistryClient:
        return cls(
            url=registry.url,
            username=registry.username,
            password=registry.password,
            ssl_verify=registry.ssl_verify,
        )

    # transport ---------------------------------------------------------------------------------
    def _context(self) -> ssl.SSLContext | None:
        if self.url.startswith("https://") and not self.ssl_verify:
            return ssl._create_unverified_context()
        return None

    def _auth_header(self) -> str | None:
        if self._token:
            return f"Bearer {self._token}"
        if self.username:
            raw = f"{self.username}:{self.password}".encode()
            return "Basic " + base64.b64encode(raw).decode()
        return None

    def _fetch_token(self, challenge: str) -> None:
        params = dict(_CHALLENGE_PARAM_RE.findall(challenge))
        realm = params.pop("realm", "")
        if not realm:
            raise RegistryError(f"unusable auth challenge: {challenge}")
        request = urllib.request.Request(f"{realm}?{urllib.parse.urlencode(params)}")
        if self.username:
            raw = f"{self.username}:{self.password}".encode()
            request.add_header("Authorization", "Basic " + base64.b64encode(raw).decode())
        with urllib.request.urlopen(
            request, timeout=self.timeout, context=self._context()
        ) as response:
            body = json.loads(response.read())
        self._token = body.get("token") or body.get("access_token")
        if not self._token:
            raise RegistryError("the token service returned no token")

    def _request(self, path: str, accept: str | None = None) -> tuple[bytes, dict[str, str]]:
        url = path if path.startswith("http") else self.url.rstrip("/") + path
        for attempt in (1, 2):
            request = urllib.request.Request(url)
            if accept:
                request.add_header("Accept", accept)
            if (auth := self._auth_header()) is not None:
                request.add_header("Authorization", auth)
            try:
                with urllib.request.urlopen(
                    request, timeout=self.timeout, context=self._context()
                ) as response:
                    return response.read(), {k.lower(): v for k, v in response.headers.items()}
            except urllib.error.HTTPError as exc:
                challenge = exc.headers.get("WWW-Authenticate", "")
                if exc.code == 401 and attempt == 1 and challenge.lower().startswith("bearer"):
                    self._fetch_token(challenge)
                    continue
                raise RegistryError(f"GET {url}: HTTP {exc.code}") from None
            except (urllib.error.URLError, OSError) as exc:
                raise RegistryError(f"GET {url}: {exc}") from None
        raise RegistryError(f"GET {url}: authentication failed")

    def _get_json(self, path: str, accept: str | None = None) -> tuple[Any, dict[str, str]]:
        body, headers = self._request(path, accept)
        try:
            return json.loads(body), headers
        except ValueError:
            raise RegistryError(f"GET {path}: not JSON") from None

    # API ---------------------------------------------------------------------------------------
    def repositories(self, page_size: int = 100) -> Iterator[str]:
        path: str | None = f"/v2/_catalog?n={page_size}"
        while path:
            body, headers = self._get_json(path)
            yield from body.get("repositories") or []
            match = _NEXT_LINK_RE.search(headers.get("link", ""))
            path = match.group(1) if match else None

    def tags(self, repository: str) -> list[str]:
        body, _ = self._get_json(f"/v2/{repository}/tags/list")
        return list(body.get("tags") or [])

    def images(self, repository: str, tag: str) -> list[RegistryImage]:
        """One entry per platform the tag holds (an index gives several)."""
        manifest, headers = self._get_json(f"/v2/{repository}/manifests/{tag}", MANIFEST_ACCEPT)
        media_type = manifest.get("mediaType") or headers.get("content-type", "")
        if media_type in INDEX_TYPES or "manifests" in manifest:
            found: list[RegistryImage] = []
            for entry in manifest.get("manifests", []):
                platform = entry.get("platform") or {}
                if platform.get("architecture") in (None, "unknown"):
                    continue  # attestation manifests
                sub, _ = self._get_json(
                    f"/v2/{repository}/manifests/{entry['digest']}", MANIFEST_ACCEPT
                )
                found.append(self._image_from_manifest(repository, tag, sub, entry["digest"]))
            return found
        digest = headers.get("docker-content-digest", "")
        return [self._image_from_manifest(repository, tag, manifest, digest)]

    def _image_from_manifest(
        self, repository: str, tag: str, manifest: dict[str, Any], digest: str
    ) -> RegistryImage:
        config_digest = (manifest.get("config") or {}).get("digest")
        if not config_digest:
            raise RegistryError(f"{repository}:{tag}: manifest without a config blob")
        config, _ = self._get_json(f"/v2/{repository}/blobs/{config_digest}")
        labels = (config.get("config") or {}).get("Labels") or {}
        size = sum(int(layer.get("size", 0)) for layer in manifest.get("layers", []))
        return RegistryImage(
            repository=repository,
            tag=tag,
            architecture=normalize_architecture(config.get("architecture", "")),
            digest=digest,
            labels={str(k): str(v) for k, v in labels.items()},
            size_bytes=size,
        )


def registry_rescan(*, registry: ContainerRegistry) -> ScanResult:
    """Upsert every kernel image (labelled `ai.backend.kernelspec`) the registry holds."""
    client = RegistryClient.for_registry(registry)
    created = updated = skipped = 0
    errors: list[str] = []
    prefix = f"{registry.project.strip('/')}/" if registry.project else ""
    for repository in client.repositories():
        if prefix and not repository.startswith(prefix):
            continue
        for tag in client.tags(repository):
            try:
                found = client.images(repository, tag)
            except RegistryError as exc:
                errors.append(f"{repository}:{tag}: {exc}")
                continue
            for image in found:
                if KERNELSPEC_LABEL not in image.labels:
                    skipped += 1
                    continue
                try:
                    _, was_created = image_upsert(
                        name=image.repository,
                        tag=image.tag,
                        architecture=image.architecture,
                        registry=registry,
                        labels=image.labels,
                        digest=image.digest,
                        size_bytes=image.size_bytes,
                    )
                except InvalidImageLabels as exc:
                    errors.append(f"{repository}:{tag}: {exc}")
                    continue
                created += was_created
                updated += not was_created
    image_aliases_ensure_defaults()
    log.info(
        "registry rescanned",
        extra={"registry": registry.name, "images_created": created, "images_updated": updated},
    )
    return ScanResult(created=created, updated=updated, skipped=skipped, errors=errors)


def registries_rescan(
    *, registries: list[ContainerRegistry] | None = None
) -> dict[str, ScanResult]:
    """Rescan the given (default: all active) registries; a failing one reports an error."""
    if registries is None:
        registries = list(ContainerRegistry.objects.filter(is_active=True))
    results: dict[str, ScanResult] = {}
    for registry in registries:
        try:
            results[registry.name] = registry_rescan(registry=registry)
        except RegistryError as exc:
            log.warning("registry rescan failed", extra={"registry": registry.name})
            results[registry.name] = ScanResult(errors=[str(exc)])
    return results
