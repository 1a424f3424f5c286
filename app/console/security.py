"""The headers every console answer carries: a strict Content Security Policy and its companions.

``default-src 'self'`` with no ``'unsafe-inline'`` anywhere: no inline script, style or event handler can
run, even if some text from the API were ever rendered as markup (the console builds the DOM with
``textContent`` only). ``frame-ancestors 'none'`` stops click-jacking; ``connect-src 'self'`` keeps the
key from being sent anywhere but this API — plus, only when Entra ID sign-in is configured, the
authority's origin, where the page redeems its sign-in code for a token (the one call that leaves).
"""

from __future__ import annotations

from collections.abc import Sequence


def content_security_policy(connect_origins: Sequence[str] = ()) -> str:
    """The policy; ``connect_origins`` are the only origins besides this one the page may call."""
    return "; ".join(
        [
            "default-src 'self'",
            "script-src 'self'",
            "style-src 'self'",
            "img-src 'self' data:",
            " ".join(["connect-src 'self'", *connect_origins]),
            "font-src 'self'",
            "object-src 'none'",
            "base-uri 'none'",
            # Sign-in leaves by a top-level navigation (location.assign), never by a form: no form may post.
            "form-action 'none'",
            "frame-ancestors 'none'",
        ]
    )


def security_headers(connect_origins: Sequence[str] = ()) -> dict[str, str]:
    """Every header a console answer carries."""
    return {
        "Content-Security-Policy": content_security_policy(connect_origins),
        "X-Content-Type-Options": "nosniff",
        "X-Frame-Options": "DENY",
        # Also keeps the sign-in code in the address from leaking to any page the console links to.
        "Referrer-Policy": "no-referrer",
        "Cross-Origin-Opener-Policy": "same-origin",
        "Cross-Origin-Resource-Policy": "same-origin",
        "Permissions-Policy": "camera=(), microphone=(), geolocation=()",
    }
