"""A logging filter that blanks secrets before any handler writes a line: API keys, webhook secrets, bearer
tokens and Authorization headers, client secrets and passwords, SAS signatures, and the configured secrets."""

from __future__ import annotations

import logging
import re
import traceback
from collections.abc import Iterable

REDACTED = "[redacted]"
_NOT_DONE = r"(?!\[redacted\])"
# Authorization / api-key headers however they are printed: `Authorization: Basic x`, `'authorization': 'x'`.
_HEADER = re.compile(
    r"(?i)(['\"]?(?:authorization|x-api-key|api-key|ocp-apim-subscription-key)['\"]?\s*[:=]\s*['\"]?)"
    + _NOT_DONE
    + r"(?:[A-Za-z]+\s+)?[^'\"\s,}]+"  # an optional scheme (Bearer, Basic), then the credential
)
# key=value or "key": "value" pairs naming a secret (client_secret, password, callback_secret, access_token, sig).
_NAMED = re.compile(
    r"(?i)(['\"]?\b(?:[a-z_]*(?:secret|password|passwd|token)|sig)['\"]?\s*[:=]\s*['\"]?)"
    + _NOT_DONE
    + r"[^'\"\s,&}]{4,}"
)
_PATTERNS = [
    (_HEADER, rf"\1{REDACTED}"),
    # Our API keys (``app.auth.api_keys``: rpk_<8 hex>_<43 chars>), and anything shaped like one.
    (re.compile(r"rpk_[0-9a-f]{4,}_[A-Za-z0-9_-]{8,}"), REDACTED),
    (re.compile(r"whsec_[A-Za-z0-9+/=_-]{8,}"), REDACTED),  # webhook signing secrets
    (re.compile(r"(?i)\b(bearer|basic)\s+" + _NOT_DONE + r"[A-Za-z0-9._~+/=-]{6,}"), rf"\1 {REDACTED}"),
    (_NAMED, rf"\1{REDACTED}"),
]


def redact(text: str, literals: Iterable[str] = ()) -> str:
    """``text`` with every secret it shows replaced by ``[redacted]``."""
    for literal in literals:
        text = text.replace(literal, REDACTED)
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


class RedactSecrets(logging.Filter):
    """Rewrites each record's message and exception text with the secrets blanked (on the handler, so lines
    of every logger, third-party ones included, pass through it)."""

    def __init__(self, literals: Iterable[str] = ()) -> None:
        super().__init__()
        # Short literals would blank ordinary words; secrets worth the name are longer.
        self._literals = sorted({s for s in literals if s and len(s) >= 8}, key=len, reverse=True)

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: keep what there is
            message = str(record.msg)
        record.msg = redact(message, self._literals)
        record.args = None
        if record.exc_info and record.exc_info[0] is not None:
            text = "".join(traceback.format_exception(*record.exc_info)).rstrip("\n")
            record.exc_text = redact(text, self._literals)
            record.exc_info = None  # formatters print exc_text, never the raw exception again
        elif record.exc_text:
            record.exc_text = redact(record.exc_text, self._literals)
        if record.stack_info:
            record.stack_info = redact(record.stack_info, self._literals)
        return True
