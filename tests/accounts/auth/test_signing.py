from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from backendai_site.accounts.auth.signing import (
    SignatureFormatError,
    normalize_content_type,
    parse_authorization,
    parse_request_date,
    sign_request,
)

SECRET = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmn"
RAW_DATE = "2025-01-02T03:04:05.678901+00:00"


class TestSignRequest:
    @pytest.mark.parametrize(
        ("method", "rel_url", "content_type", "expected"),
        [
            (
                "GET",
                "/",
                "text/plain",
                "64b10c0b02da0d087c7c7c45a74022995bcf569eb4d4123116aa923921b70fef",
            ),
            (
                "POST",
                "/admin/gql",
                "application/json",
                "545be1fa6394839d8dba350dbafe2fb34408bea3ff20c7b2bbba8a0144aa4596",
            ),
            (
                "GET",
                "/events/session?sessionName=mysess&scope=*",
                normalize_content_type(None),
                "539c1083485c3d0d3939f217f0fd3d75c923ced136d7c74bd76f82c39ad1efc6",
            ),
        ],
    )
    def test_compat_vectors(
        self, method: str, rel_url: str, content_type: str, expected: str
    ) -> None:
        signature = sign_request(
            secret_key=SECRET,
            method=method,
            rel_url=rel_url,
            raw_date=RAW_DATE,
            request_date=parse_request_date(RAW_DATE),
            host="127.0.0.1:8091",
            content_type=content_type,
            api_version="v9.20250722",
        )

        assert signature == expected


class TestParseAuthorization:
    def test_backendai_header(self) -> None:
        header = parse_authorization("BackendAI signMethod=HMAC-SHA256, credential=AK:sig")

        assert (header.sign_method, header.access_key, header.signature) == (
            "hmac-sha256",
            "AK",
            "sig",
        )

    def test_sorna_prefix_is_accepted(self) -> None:
        assert (
            parse_authorization("Sorna signMethod=HMAC-SHA256,credential=AK:s").access_key == "AK"
        )

    @pytest.mark.parametrize(
        "value",
        [
            "Bearer abc",
            "BackendAI signMethod=HMAC-SHA256",
            "BackendAI signMethod=HMAC-SHA256, credential=nocolon",
            "BackendAI signMethod=RSA-SHA256, credential=AK:sig",
            "BackendAI signMethod=HMAC-NOPE, credential=AK:sig",
            "BackendAI garbage",
        ],
    )
    def test_malformed_headers_are_rejected(self, value: str) -> None:
        with pytest.raises(SignatureFormatError):
            parse_authorization(value)


class TestParseRequestDate:
    def test_naive_date_means_utc(self) -> None:
        assert parse_request_date("2025-01-02T03:04:05") == datetime(
            2025, 1, 2, 3, 4, 5, tzinfo=UTC
        )

    def test_offset_is_kept(self) -> None:
        parsed = parse_request_date("2025-01-02T03:04:05+09:00")

        assert parsed.utcoffset() == timedelta(hours=9)
        assert parsed.tzinfo == timezone(timedelta(hours=9)) or parsed.tzinfo is not None

    def test_garbage_is_rejected(self) -> None:
        with pytest.raises(SignatureFormatError):
            parse_request_date("not a date")

    @pytest.mark.parametrize(
        "raw",
        ["2025-01-02T03:04:05.250000+00:00", "2025-01-02T03:04:05.25Z",
         "Thu, 02 Jan 2025 03:04:05.25 GMT", "2025-01-02 03:04:05.25"],
    )  # fmt: skip
    def test_iso_and_other_forms_read_alike(self, raw: str) -> None:
        assert parse_request_date(raw) == datetime(2025, 1, 2, 3, 4, 5, 250000, tzinfo=UTC)


class TestNormalizeContentType:
    @pytest.mark.parametrize(
        ("raw", "expected"),
        [
            (None, "application/octet-stream"),
            ("", "application/octet-stream"),
            ("multipart/form-data; boundary=x", "multipart/form-data"),
            ("Application/JSON", "application/json"),
        ],
    )
    def test_normalization(self, raw: str | None, expected: str) -> None:
        assert normalize_content_type(raw) == expected


class TestSignMethods:
    @pytest.mark.parametrize("method", ["HMAC-SHAKE_128", "HMAC-SHAKE_256"])
    def test_extendable_output_hashes_are_rejected(self, method: str) -> None:
        with pytest.raises(SignatureFormatError):
            parse_authorization(
                f"BackendAI signMethod={method}, credential=AK:sig",
                allowed_methods=frozenset({method.lower()}),
            )

    @pytest.mark.parametrize("method", ["HMAC-MD5", "HMAC-SHA1", "HMAC-SHA512"])
    def test_only_sha256_by_default(self, method: str) -> None:
        with pytest.raises(SignatureFormatError, match="not allowed"):
            parse_authorization(f"BackendAI signMethod={method}, credential=AK:sig")

    def test_a_configured_method_is_accepted(self) -> None:
        header = parse_authorization(
            "BackendAI signMethod=HMAC-SHA512, credential=AK:sig",
            allowed_methods=frozenset({"hmac-sha256", "hmac-sha512"}),
        )

        assert header.hash_name == "sha512"
