"""Redaction of AWS secrets from anything the harness writes (reports, logs)."""
from __future__ import annotations

import re

_PATTERNS = (
    # access key ids (long-term AKIA, temporary ASIA, and the other documented prefixes)
    (re.compile(r"\b(?:AKIA|ASIA|AGPA|AIDA|AROA|ANPA|ANVA|AIPA)[A-Z0-9]{16}\b"), "[REDACTED-ACCESS-KEY]"),
    # secret keys and session tokens given as key=value or "key": "value"
    (re.compile(r"(?i)(aws_secret_access_key|secret_access_key|secretaccesskey|aws_session_token|"
                r"session_token|sessiontoken|x-amz-security-token)(\"?\s*[:=]\s*\"?)([^\s\"',&]+)"),
     r"\1\2[REDACTED]"),
    # presigned URL signatures and credentials
    (re.compile(r"(?i)(X-Amz-Signature=|X-Amz-Credential=|X-Amz-Security-Token=|Signature=)[^&\s\"']+"),
     r"\1[REDACTED]"),
)


_BARE_SECRET = re.compile(r"(?<![A-Za-z0-9/+=])[A-Za-z0-9/+]{40}(?![A-Za-z0-9/+=])")


def _looks_like_secret(token: str) -> bool:
    """Secret access keys are 40 mixed-case base64 characters; git SHAs are lowercase hex."""
    return (any(c.isupper() for c in token) and any(c.islower() for c in token)
            and any(c.isdigit() or c in "/+" for c in token))


def redact(text: str) -> str:
    for pattern, repl in _PATTERNS:
        text = pattern.sub(repl, text)
    return _BARE_SECRET.sub(lambda m: "[REDACTED-SECRET]" if _looks_like_secret(m.group(0)) else m.group(0), text)


_SECRET_KEY = re.compile(r"(?i)(secret|token|password|credential|signature)")


def redact_mapping(value: object) -> object:
    """Redact values stored under secret-looking keys, recursively, then redact every string."""
    if isinstance(value, dict):
        return {k: "[REDACTED]" if isinstance(k, str) and _SECRET_KEY.search(k) else redact_mapping(v)
                for k, v in value.items()}
    if isinstance(value, list):
        return [redact_mapping(v) for v in value]
    if isinstance(value, str):
        return redact(value)
    return value
