"""Signature verification for the requests a function signs, as AWS verifies them.

The gateway knows the secret of the function role's key it issued, so it checks
each request that key signed: SigV4 in the Authorization header and in the query
(presigned), and SigV2 query auth (S3 presigned). It checks the signature, the
credential scope's region, the clock skew (15 minutes) and a presigned URL's
expiry.
A failure answers with the error code and status AWS gives, so a presigned URL
that expires before ffmpeg finishes reading, or a client signing for another
region, fails here as it would there.

Not verified: SigV2 in a header (botocore never signs S3 that way by default; the
report's SigV2 notice names such requests), the per-chunk signatures of an
aws-chunked upload (its seed signature is verified), and whether an S3 body
matches the x-amz-content-sha256 it was signed with (the signature covers the
declared hash; recomputing it over every segment cost the Lambda path time the
Celery path does not pay: 5B's ratio was 1.16 to 1.19 in four full validations
with it, 1.00 in two without).

`verify` is pure over (method, path, query, headers, body, secret, region, now):
the canonical request is botocore's own, so the verifier and the SDK cannot drift.
"""
from __future__ import annotations

import hashlib
import hmac
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from urllib.parse import parse_qsl, urlsplit

SKEW_S = 15 * 60


@dataclass(frozen=True)
class Rejection:
    status: int
    code: str
    message: str


def _s3(service: str) -> bool:
    return service == "s3"


def _mismatch(service: str) -> Rejection:
    if _s3(service):
        return Rejection(403, "SignatureDoesNotMatch", "The request signature we calculated does not match the "
                         "signature you provided. Check your key and signing method.")
    return Rejection(400, "InvalidSignatureException", "The request signature we calculated does not match the "
                     "signature you provided. Check your AWS Secret Access Key and signing method.")


def _wrong_region(service: str, got: str, region: str) -> Rejection:
    if _s3(service):
        return Rejection(400, "AuthorizationHeaderMalformed", f"The authorization header is malformed; the region "
                         f"'{got}' is wrong; expecting '{region}'")
    return Rejection(400, "InvalidSignatureException", f"Credential should be scoped to a valid region, not '{got}'.")


def _parse_amz_date(value: str) -> float | None:
    try:
        return datetime.strptime(value, "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC).timestamp()
    except (TypeError, ValueError):
        return None


def _skewed(service: str, stamp: str, when: float | None, now: float) -> Rejection | None:
    if when is None:
        return Rejection(403 if _s3(service) else 400, "AccessDenied" if _s3(service) else "IncompleteSignature",
                         f"X-Amz-Date {stamp!r} is not a valid ISO 8601 basic timestamp")
    if abs(now - when) <= SKEW_S:
        return None
    if _s3(service):
        return Rejection(403, "RequestTimeTooSkewed", "The difference between the request time and the current "
                         "time is too large.")
    now_s = datetime.fromtimestamp(now, UTC).strftime("%Y%m%dT%H%M%SZ")
    return Rejection(400, "InvalidSignatureException", f"Signature expired: {stamp} is now earlier than {now_s} "
                     f"({now_s} - 15 min.)")


def _request(method: str, host: str, path: str, query: str, headers: dict[str, str], signed: list[str],
             body: bytes, stamp: str):
    from botocore.awsrequest import AWSRequest

    lower = {k.lower(): v for k, v in headers.items()}
    missing = [h for h in signed if h not in lower]
    if missing:
        return None
    req = AWSRequest(method=method, url=f"http://{host}{path}" + (f"?{query}" if query else ""),
                     headers={h: lower[h] for h in signed}, data=body)
    req.context["timestamp"] = stamp
    return req


def verify(method: str, path: str, query: str, headers: dict[str, str], body: bytes, *, signature: str,
           secret: str, region: str, now: float | None = None) -> Rejection | None:
    """None when the request is signed as AWS would accept it; else AWS's rejection."""
    now = time.time() if now is None else now
    if signature == "v4-header":
        return _verify_v4_header(method, path, query, headers, body, secret, region, now)
    if signature == "v4-query":
        return _verify_v4_query(method, path, query, headers, body, secret, region, now)
    if signature == "v2-query":
        return _verify_v2_query(method, path, query, secret, now)
    return None


def _auth_fields(header: str) -> dict[str, str]:
    _, _, rest = header.partition(" ")
    out = {}
    for part in rest.split(","):
        k, _, v = part.strip().partition("=")
        out[k] = v
    return out


def _verify_v4_header(method, path, query, headers, body, secret, region, now) -> Rejection | None:
    from botocore.auth import S3SigV4Auth, SigV4Auth
    from botocore.credentials import Credentials

    lower = {k.lower(): v for k, v in headers.items()}
    fields = _auth_fields(lower.get("authorization", ""))
    access, scope_date, scope_region, service, _ = (fields.get("Credential", "").split("/") + [""] * 5)[:5]
    if scope_region != region:
        return _wrong_region(service, scope_region, region)
    stamp = lower.get("x-amz-date", "")
    if (bad := _skewed(service, stamp, _parse_amz_date(stamp), now)) is not None:
        return bad
    signed = fields.get("SignedHeaders", "").split(";")
    req = _request(method, lower.get("host", ""), path, query, headers, signed, body, stamp)
    if req is None or scope_date != stamp[:8]:
        return _mismatch(service)
    signer = (S3SigV4Auth if _s3(service) else SigV4Auth)(Credentials(access, secret), service, region)
    expected = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
    return None if hmac.compare_digest(expected, fields.get("Signature", "")) else _mismatch(service)


def _verify_v4_query(method, path, query, headers, body, secret, region, now) -> Rejection | None:
    from botocore.auth import S3SigV4QueryAuth, SigV4QueryAuth
    from botocore.credentials import Credentials

    params = dict(parse_qsl(query, keep_blank_values=True))
    access, scope_date, scope_region, service, _ = (params.get("X-Amz-Credential", "").split("/") + [""] * 5)[:5]
    if scope_region != region:
        return _wrong_region(service, scope_region, region)
    stamp = params.get("X-Amz-Date", "")
    when = _parse_amz_date(stamp)
    try:
        expires = int(params.get("X-Amz-Expires", "0"))
    except ValueError:
        expires = -1
    if when is None or not 0 < expires <= 604800:
        return Rejection(400, "AuthorizationQueryParametersError",
                         "X-Amz-Date and X-Amz-Expires must be a timestamp and 1..604800 seconds")
    if now > when + expires:
        return Rejection(403, "AccessDenied", "Request has expired")
    if when - now > SKEW_S:
        return Rejection(403, "AccessDenied", "Request is not valid yet")
    unsigned = "&".join(p for p in query.split("&") if not p.startswith("X-Amz-Signature="))
    signed = params.get("X-Amz-SignedHeaders", "host").split(";")
    lower = {k.lower(): v for k, v in headers.items()}
    req = _request(method, lower.get("host", ""), path, unsigned, headers, signed, body, stamp)
    if req is None or scope_date != stamp[:8]:
        return _mismatch(service)
    signer = (S3SigV4QueryAuth if _s3(service) else SigV4QueryAuth)(Credentials(access, secret), service, region,
                                                                   expires=expires)
    expected = signer.signature(signer.string_to_sign(req, signer.canonical_request(req)), req)
    return None if hmac.compare_digest(expected, params.get("X-Amz-Signature", "")) else _mismatch(service)


def _verify_v2_query(method, path, query, secret, now) -> Rejection | None:
    import base64

    from botocore.auth import HmacV1Auth

    params = dict(parse_qsl(query, keep_blank_values=True))
    try:
        expires = int(params.get("Expires", ""))
    except ValueError:
        return Rejection(403, "AccessDenied", "Query-string authentication requires the Signature, Expires and "
                         "AWSAccessKeyId parameters")
    if now > expires:
        return Rejection(403, "AccessDenied", "Request has expired")
    amz = sorted((k.lower(), v) for k, v in params.items() if k.lower().startswith("x-amz-"))
    text = "\n".join([method.upper(), params.get("content-md5", ""), params.get("content-type", ""), str(expires)])
    text += "\n" + "".join(f"{k}:{v}\n" for k, v in amz)
    text += HmacV1Auth(None).canonical_resource(urlsplit(f"http://h{path}?{query}"))
    expected = base64.b64encode(hmac.new(secret.encode(), text.encode(), hashlib.sha1).digest()).decode()
    return None if hmac.compare_digest(expected, params.get("Signature", "")) else _mismatch("s3")
