"""Thin REST views of execution, service apps and session files (COMPAT.md 4.2, 4.4, 4.5).

They resolve the session's main kernel (for a caller the one rule lets operate it) and call the
async services in sessions_app.services.execute/files, which talk straight to the kernel runner.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import unquote

from asgiref.sync import async_to_sync
from django.http import StreamingHttpResponse
from django.http.multipartparser import MultiPartParser, MultiPartParserError
from drf_spectacular.utils import OpenApiParameter, extend_schema, inline_serializer
from pydantic import ValidationError
from rest_framework import serializers
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from backendai_site.accounts.models import KeyPair
from backendai_site.common.errors import InvalidAPIParameters
from sessions_app.services.execute import (
    ExecuteRequest,
    KernelEndpoint,
    kernel_endpoint_resolve,
    session_apps,
    session_execute,
    session_interrupt,
    session_service_start,
)
from sessions_app.services.files import (
    ArchiveDownload,
    UploadItem,
    session_files_check,
    session_files_list,
    session_files_upload,
    upload_size_check,
)

# Room for the multipart framing around the files in a Content-Length.
MULTIPART_OVERHEAD = 1024 * 1024
OWNER_PARAM = OpenApiParameter("owner_access_key", str, required=False)


def _endpoint(request: Request, ref: str) -> KernelEndpoint:
    keypair = request.auth
    assert isinstance(keypair, KeyPair)
    return kernel_endpoint_resolve(
        requester=keypair,
        ref=ref,
        owner_access_key=request.query_params.get("owner_access_key") or None,
    )


def _body(request: Request) -> dict[str, Any]:
    data = request.data
    if not isinstance(data, dict):
        raise InvalidAPIParameters("The request body must be a JSON object.")
    return dict(data)


def _execute_request(body: dict[str, Any]) -> ExecuteRequest:
    try:
        return ExecuteRequest.model_validate(body)
    except ValidationError as exc:
        raise InvalidAPIParameters(
            "Invalid execute request.",
            data={"errors": exc.errors(include_url=False, include_input=False)},
        ) from None


def session_execute_respond(request: Request, ref: str) -> Response:
    """`POST /session/{ref}`: REST execute (modes query, continue, input, batch, complete)."""
    execute = _execute_request(_body(request))
    endpoint = _endpoint(request, ref)
    result = async_to_sync(session_execute)(endpoint=endpoint, request=execute)
    return Response({"result": result})


class SessionCompleteView(APIView):
    @extend_schema(
        parameters=[OWNER_PARAM], request=ExecuteRequest, responses=serializers.DictField()
    )
    def post(self, request: Request, ref: str) -> Response:
        execute = _execute_request({**_body(request), "mode": "complete"})
        endpoint = _endpoint(request, ref)
        result = async_to_sync(session_execute)(endpoint=endpoint, request=execute)
        return Response({"result": result})


class SessionInterruptView(APIView):
    @extend_schema(parameters=[OWNER_PARAM], request=None, responses={204: None})
    def post(self, request: Request, ref: str) -> Response:
        async_to_sync(session_interrupt)(endpoint=_endpoint(request, ref))
        return Response(status=204)


class SessionAppsView(APIView):
    """`GET /stream/session/{ref}/apps`: the service ports plus the preopen ports."""

    @extend_schema(parameters=[OWNER_PARAM], responses=serializers.ListField())
    def get(self, request: Request, ref: str) -> Response:
        return Response(session_apps(endpoint=_endpoint(request, ref)))


class SessionStartServiceView(APIView):
    @extend_schema(
        parameters=[OWNER_PARAM],
        request=inline_serializer(
            "SessionStartServiceInput", {"app": serializers.CharField(max_length=64)}
        ),
        responses=serializers.DictField(),
    )
    def post(self, request: Request, ref: str) -> Response:
        body = _body(request)
        name = body.get("app") or body.get("service") or request.query_params.get("app")
        if not name or not isinstance(name, str):
            raise InvalidAPIParameters("Name the service app to start ('app').")
        reply = async_to_sync(session_service_start)(
            endpoint=_endpoint(request, ref), name=name, force=True
        )
        return Response({"token": "", "wsproxy_addr": "", **reply})


class _PathKeepingParser(MultiPartParser):
    """Django's parser keeps only the file name's last component; the upload API needs the
    relative path (`sub/a.py`). Raw names are recorded in parse order and confined later."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.raw_names: list[str] = []

    def sanitize_file_name(self, file_name: str) -> str | None:
        # aiohttp (the official client) percent-encodes the filename parameter.
        self.raw_names.append(unquote(file_name))
        return super().sanitize_file_name(file_name) or "file"


class SessionUploadView(APIView):
    @extend_schema(parameters=[OWNER_PARAM], responses={204: None})
    def post(self, request: Request, ref: str) -> Response:
        endpoint = _endpoint(request, ref)
        django_request = request._request
        try:
            declared = int(django_request.META.get("CONTENT_LENGTH") or 0)
        except ValueError:
            raise InvalidAPIParameters("Content-Length must be a number.") from None
        upload_size_check(declared - MULTIPART_OVERHEAD)  # before the body is parsed
        parser = _PathKeepingParser(
            django_request.META, django_request, django_request.upload_handlers
        )
        try:
            _, files = parser.parse()
        except MultiPartParserError as exc:
            raise InvalidAPIParameters(f"Malformed multipart body: {exc}") from None
        uploaded = files.getlist("src")
        names = parser.raw_names
        if len(names) != len(uploaded):
            raise InvalidAPIParameters("Upload every file in a multipart field named 'src'.")
        pairs = zip(names, uploaded, strict=True)
        items = [UploadItem(path=name, read=f.read, size=f.size) for name, f in pairs]
        try:
            async_to_sync(session_files_upload)(endpoint=endpoint, items=items)
        finally:
            for f in uploaded:
                f.close()
        return Response(status=204)


class SessionDownloadView(APIView):
    @extend_schema(
        parameters=[OWNER_PARAM, OpenApiParameter("files", str, many=True)],
        responses={(200, "multipart/mixed"): bytes},
    )
    def post(self, request: Request, ref: str) -> StreamingHttpResponse:
        paths = request.query_params.getlist("files")
        endpoint = _endpoint(request, ref)
        relatives = async_to_sync(session_files_check)(endpoint=endpoint, paths=paths)
        download = ArchiveDownload(endpoint=endpoint, names=paths, relatives=relatives)
        return StreamingHttpResponse(download.body(), content_type=download.content_type)


class SessionFilesView(APIView):
    @extend_schema(parameters=[OWNER_PARAM], responses=serializers.DictField())
    def get(self, request: Request, ref: str) -> Response:
        data = request.data if isinstance(request.data, dict) else {}
        path = data.get("path") or request.query_params.get("path") or "."
        if not isinstance(path, str):
            raise InvalidAPIParameters("'path' must be a string.")
        endpoint = _endpoint(request, ref)
        return Response(async_to_sync(session_files_list)(endpoint=endpoint, path=path))
