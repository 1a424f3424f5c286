"""The headers every console answer carries: a strict Content Security Policy and its companions.

``default-src 'self'`` with no ``'unsafe-inline'`` anywhere: no inline script, style or event handler can
run, even if some text from the API were ever rendered as markup (the console builds the DOM with
``textContent`` only). ``frame-ancestors 'none'`` stops click-jacking; ``connect-src 'self'`` keeps the
key from being sent anywhere but this API.
"""

from __future__ import annotations

CONTENT_SECURITY_POLICY = "; ".join(
    [
        "default-src 'self'",
        "script-src 'self'",
        "style-src 'self'",
        "img-src 'self' data:",
        "connect-src 'self'",
        "font-src 'self'",
        "object-src 'none'",
        "base-uri 'none'",
        "form-action 'none'",
        "frame-ancestors 'none'",
    ]
)

SECURITY_HEADERS = {
    "Content-Security-Policy": CONTENT_SECURITY_POLICY,
    "X-Content-Type-Options": "nosniff",
    "X-Frame-Options": "DENY",
    "Referrer-Policy": "no-referrer",
    "Cross-Origin-Opener-Policy": "same-origin",
    "Cross-Origin-Resource-Policy": "same-origin",
    "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
}
