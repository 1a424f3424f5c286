"""May the service call this receiver's URL? The settings' SSRF policy, refused as a 422 naming why."""

from __future__ import annotations

from app.errors import InvalidRequest
from app.outbound.ssrf import UrlPolicy, UrlRefused, check_url
from app.settings import WebhookSettings


def url_policy(settings: WebhookSettings) -> UrlPolicy:
    """The SSRF policy the settings describe."""
    return UrlPolicy(allow_http=settings.allow_http, allowed_networks=tuple(settings.allowed_networks))


def vet_url(url: str, settings: WebhookSettings, *, field: str = "url") -> str:
    """``url`` if the service may call it (scheme, resolved addresses); else a 422 naming why."""
    try:
        check_url(url, url_policy(settings))
    except UrlRefused as exc:
        raise InvalidRequest(
            f"{field}: {exc.message}", code="webhook_url_refused", details={"reason": exc.code, "field": field}
        ) from exc
    return url
