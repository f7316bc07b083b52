"""Wire formats of the template and dotfile APIs (the official client's, docs/compat/
templates-dotfiles.md): the task-template document, the create/update payload that carries it as
JSON or YAML text, and the dotfile bodies."""

from __future__ import annotations

import json
import posixpath
import re
from typing import Annotated, Any, Literal

import yaml
from pydantic import (
    AliasChoices,
    BaseModel,
    ConfigDict,
    Field,
    StringConstraints,
    ValidationError,
    field_validator,
)

from backendai_site.common.errors import InvalidAPIParameters
from backendai_site.common.validation import NoNul, Text64, Text64K, Text256, json_loads_bounded

from .errors import DotfileInvalid, InvalidTaskTemplate

MAX_PAYLOAD_CHARS = 64 * 1024
MAX_TEMPLATES_PER_PAYLOAD = 16
# The reference's limit: every dotfile of one scope together.
MAX_DOTFILES_BYTES = 64 * 1024
MAX_DOTFILES_PER_SCOPE = 100
MAX_DOTFILE_PATH = 255
# Paths the platform writes itself (SSH keys) or that would hide the user's own installs.
RESERVED_DOTFILE_PATHS = (".ssh/authorized_keys", ".local")
PERMISSION_RE = re.compile(r"^[0-7]{3,4}\Z")


def validation_problem(
    exc: ValidationError, cls: type[InvalidAPIParameters]
) -> InvalidAPIParameters:
    fields = {".".join(str(p) for p in e["loc"]) or "body": e["msg"] for e in exc.errors()}
    return cls("; ".join(f"{k}: {v}" for k, v in fields.items()), data=fields)


def parse_body[T: BaseModel](model: type[T], data: Any) -> T:
    """Validate a request body or query; every problem becomes one invalid-api-params error."""
    try:
        return model.model_validate(data if data is not None else {})
    except ValidationError as exc:
        raise validation_problem(exc, InvalidAPIParameters) from None


# --- the task template ---------------------------------------------------------------------------


class _Loose(BaseModel):
    model_config = ConfigDict(extra="allow", populate_by_name=True)


class TemplateMetadata(_Loose):
    name: Annotated[str, StringConstraints(min_length=1, max_length=128), NoNul]
    tag: Text64 | None = None


class TemplateRun(_Loose):
    bootstrap: Text64K | None = None
    startup_command: Text64K | None = Field(
        default=None, validation_alias=AliasChoices("startup_command", "startupCommand", "startup")
    )


class TemplateKernel(_Loose):
    image: Annotated[str, StringConstraints(min_length=1, max_length=512), NoNul]
    architecture: Annotated[str, StringConstraints(pattern=r"^[a-z0-9_]{1,32}$")] | None = None
    environ: dict[Text256, Text64K] | None = Field(default=None, max_length=256)
    run: TemplateRun | None = None


class TemplateSpec(_Loose):
    session_type: Literal["interactive", "batch", "inference"] = Field(
        default="interactive",
        validation_alias=AliasChoices("session_type", "sessionType", "type"),
    )
    kernel: TemplateKernel
    scaling_group: Text64 | None = Field(
        default=None, validation_alias=AliasChoices("scaling_group", "scalingGroup")
    )
    mounts: dict[Text256, Text256 | None] | None = Field(default=None, max_length=64)
    resources: dict[Text64, Any] | None = Field(default=None, max_length=64)
    resource_opts: dict[Text64, Any] | None = Field(default=None, max_length=64)
    cluster_size: int | None = Field(default=None, ge=1, le=64)
    cluster_mode: Text64 | None = None
    agent_list: list[Text64] | None = Field(
        default=None, validation_alias=AliasChoices("agent_list", "agentList"), max_length=64
    )

    @field_validator("mounts")
    @classmethod
    def _mount_targets(cls, value: dict[str, str | None] | None) -> dict[str, str | None] | None:
        for target in (value or {}).values():
            if target is not None and ".." in target.split("/"):
                raise ValueError(f"mount target {target[:64]!r} may not contain '..'")
        return value


class TaskTemplate(_Loose):
    api_version: Text64 = Field(validation_alias=AliasChoices("api_version", "apiVersion"))
    kind: Literal["taskTemplate", "task_template"]
    metadata: TemplateMetadata
    spec: TemplateSpec


class TemplateEntry(BaseModel):
    """One template of a payload, with the name it is stored under."""

    name: str
    template: dict[str, Any]


def _refuse_yaml_aliases(text: str) -> None:
    """Aliases let a tiny document expand into a huge one (a YAML bomb): refuse them."""
    for event in yaml.parse(text, Loader=yaml.SafeLoader):
        if isinstance(event, yaml.AliasEvent):
            raise InvalidTaskTemplate("YAML aliases (*name) are not accepted in templates.")


def _documents(payload: str) -> list[Any]:
    stripped = payload.lstrip()
    if stripped.startswith(("{", "[")):
        try:
            return [json_loads_bounded(payload)]
        except InvalidAPIParameters:
            pass  # YAML flow style starts the same way: try it as YAML
    try:
        _refuse_yaml_aliases(payload)
        return [doc for doc in yaml.safe_load_all(payload) if doc is not None]
    except (yaml.YAMLError, RecursionError):
        raise InvalidTaskTemplate("Malformed payload: neither JSON nor YAML.") from None


def template_payload_parse(payload: str) -> list[TemplateEntry]:
    """The templates in a create/update payload: JSON or YAML (several documents allowed), each
    a `{"template": {...}, "name": ...}` entry (the reference's form) or a bare template; a list
    of either counts as that many entries."""
    if len(payload) > MAX_PAYLOAD_CHARS:
        raise InvalidTaskTemplate(f"The payload is larger than {MAX_PAYLOAD_CHARS} characters.")
    entries: list[Any] = []
    for doc in _documents(payload):
        entries.extend(doc if isinstance(doc, list) else [doc])
    if not entries:
        raise InvalidTaskTemplate("The payload holds no template.")
    if len(entries) > MAX_TEMPLATES_PER_PAYLOAD:
        raise InvalidTaskTemplate(f"At most {MAX_TEMPLATES_PER_PAYLOAD} templates per payload.")
    result = []
    for entry in entries:
        if not isinstance(entry, dict):
            raise InvalidTaskTemplate("Each template must be a mapping.")
        raw = entry.get("template", entry)
        if not isinstance(raw, dict):
            raise InvalidTaskTemplate("`template` must be a mapping.")
        try:
            checked = TaskTemplate.model_validate(raw)
        except ValidationError as exc:
            raise validation_problem(exc, InvalidTaskTemplate) from None
        name = entry.get("name") if "template" in entry else None
        if name is not None and (not isinstance(name, str) or not 0 < len(name) <= 128):
            raise InvalidTaskTemplate("`name` must be a string of 1 to 128 characters.")
        document = checked.model_dump(mode="json", exclude_none=True)
        result.append(TemplateEntry(name=name or checked.metadata.name, template=document))
    return result


def template_render(document: dict[str, Any], body_format: str) -> str:
    if body_format == "yaml":
        return yaml.safe_dump(document, sort_keys=False, allow_unicode=True)
    return json.dumps(document)


class TemplateCreateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    payload: Annotated[str, StringConstraints(max_length=MAX_PAYLOAD_CHARS)]
    group_name: Text64 | None = Field(
        default=None, validation_alias=AliasChoices("group_name", "group", "groupName")
    )
    domain_name: Text64 | None = Field(
        default=None, validation_alias=AliasChoices("domain_name", "domain", "domainName")
    )
    owner_access_key: Annotated[str, StringConstraints(max_length=20), NoNul] | None = None


class TemplateUpdateBody(BaseModel):
    model_config = ConfigDict(extra="ignore")

    payload: Annotated[str, StringConstraints(max_length=MAX_PAYLOAD_CHARS)]
    owner_access_key: Annotated[str, StringConstraints(max_length=20), NoNul] | None = None


class TemplateListQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    all: bool = False


class TemplateGetQuery(BaseModel):
    model_config = ConfigDict(extra="ignore")

    format: Literal["yaml", "json"] = "json"
    owner_access_key: Annotated[str, StringConstraints(max_length=20), NoNul] | None = None


# --- dotfiles ---------------------------------------------------------------------------------


def dotfile_path_check(path: str) -> str:
    """A path relative to /home/work: no absolute path, no `..`, no empty or `.` component, no
    control characters, not one the platform reserves."""
    if not path or len(path) > MAX_DOTFILE_PATH:
        raise DotfileInvalid(f"A dotfile path has 1 to {MAX_DOTFILE_PATH} characters.")
    if any(ord(c) < 32 or c == "\x7f" for c in path):
        raise DotfileInvalid("A dotfile path may not contain control characters.")
    if path.startswith("/") or path.startswith("~"):
        raise DotfileInvalid("A dotfile path is relative to the home folder (/home/work).")
    parts = path.split("/")
    if any(part in ("", ".", "..") for part in parts):
        raise DotfileInvalid("A dotfile path may not contain empty, '.' or '..' components.")
    normalized = posixpath.normpath(path)
    for reserved in RESERVED_DOTFILE_PATHS:
        if normalized == reserved or normalized.startswith(reserved + "/"):
            raise DotfileInvalid(f"The path {reserved!r} is reserved.")
    return normalized


def dotfile_permission_parse(value: str | int | None) -> int:
    """'755' -> 0o755 (the client sends octal digits as a string; 755 is its default)."""
    text = "755" if value is None else str(value)
    if not PERMISSION_RE.match(text):
        raise DotfileInvalid("The permission is three octal digits, e.g. 644 or 755.")
    mode = int(text, 8)
    if mode > 0o777:
        raise DotfileInvalid("Only the permission bits (at most 777) may be set.")
    return mode


class DotfileScopeParams(BaseModel):
    """Which dotfiles: the group (name or id) and domain of project/domain dotfiles, the owner of
    user dotfiles (the client misspells it `onwer_access_key` when listing)."""

    model_config = ConfigDict(extra="ignore")

    group: Text64 | None = None
    domain: Text64 | None = None
    owner_access_key: Annotated[str, StringConstraints(max_length=20), NoNul] | None = Field(
        default=None, validation_alias=AliasChoices("owner_access_key", "onwer_access_key")
    )


class DotfilePathParams(DotfileScopeParams):
    path: Annotated[str, StringConstraints(max_length=1024)]


class DotfileBody(DotfilePathParams):
    data: Annotated[str, StringConstraints(max_length=MAX_DOTFILES_BYTES)]
    permission: Annotated[str, StringConstraints(max_length=8)] | int | None = None
