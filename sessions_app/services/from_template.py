"""`POST /session/_/create-from-template`: a session-create body built from a task template and
overridden by the request, then validated and enqueued exactly like `POST /session`.

The template gives the image, architecture, session type, tag, environment, bootstrap script,
startup command, resources, resource group, folders and cluster shape; every field the request
sends (and does not send as null) replaces the template's, `config` key by key. An empty
`config.mounts` keeps the template's folders: the official client always sends that list, empty
unless `--mount` was given (docs/compat/templates-dotfiles.md).
"""

from __future__ import annotations

from typing import Any

from backendai_site.accounts.models import KeyPair
from backendai_site.common.errors import InvalidAPIParameters
from templates_app.enums import ScopeAction
from templates_app.selectors import acting_user_resolve, template_get

REQUEST_ONLY_KEYS = frozenset({"template_id", "templateId", "config"})


def _template_body(document: dict[str, Any]) -> dict[str, Any]:
    spec = document.get("spec") or {}
    kernel = spec.get("kernel") or {}
    run = kernel.get("run") or {}
    mounts: dict[str, str | None] = spec.get("mounts") or {}
    body: dict[str, Any] = {
        "image": kernel.get("image"),
        "architecture": kernel.get("architecture"),
        "type": spec.get("session_type"),
        "tag": (document.get("metadata") or {}).get("tag"),
        "bootstrap_script": run.get("bootstrap"),
        "startupCommand": run.get("startup_command"),
        "clusterSize": spec.get("cluster_size"),
        "clusterMode": spec.get("cluster_mode"),
    }
    config: dict[str, Any] = {
        "environ": kernel.get("environ"),
        "mounts": list(mounts) or None,
        "mount_map": {name: target for name, target in mounts.items() if target} or None,
        "resources": spec.get("resources"),
        "resource_opts": spec.get("resource_opts"),
        "scalingGroup": spec.get("scaling_group"),
        "agentList": spec.get("agent_list"),
    }
    body["config"] = {k: v for k, v in config.items() if v is not None}
    return {k: v for k, v in body.items() if v is not None}


def _overridden(template: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    merged = dict(template)
    for key, value in request.items():
        if key not in REQUEST_ONLY_KEYS and value is not None:
            merged[key] = value
    config = dict(template.get("config") or {})
    requested = request.get("config")
    if isinstance(requested, dict):
        for key, value in requested.items():
            if value is None or (key == "mounts" and value == []):
                continue
            config[key] = value
    merged["config"] = config
    return merged


def session_body_from_template(*, requester: KeyPair, body: dict[str, Any]) -> dict[str, Any]:
    """The `POST /session` body for this request: 404 (task-template-not-found) for a template
    the session's owner may not see; admins starting one for someone else need the template to
    be visible to that owner too."""
    template_id = body.get("template_id") or body.get("templateId")
    if not isinstance(template_id, str) or not template_id:
        raise InvalidAPIParameters("`template_id` is required.")
    owner_access_key = body.get("owner_access_key")
    owner = acting_user_resolve(
        requester=requester,
        owner_access_key=owner_access_key if isinstance(owner_access_key, str) else None,
    )
    template = template_get(user=owner, template_id=template_id, action=ScopeAction.VIEW)
    return _overridden(_template_body(template.template), body)
