"""The JSON parser of every DRF view: depth-limited, NaN/Infinity refused (common/validation)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import IO, Any

from rest_framework.parsers import JSONParser

from backendai_site.common.validation import json_loads_bounded


class BoundedJSONParser(JSONParser):
    def parse(
        self,
        stream: IO[Any],
        media_type: str | None = None,
        parser_context: Mapping[str, Any] | None = None,
    ) -> Any:
        return json_loads_bounded(stream.read())
