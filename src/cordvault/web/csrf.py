"""CSRF tokens for requests authenticated by the session cookie (pages and their fetches).

A bearer token is never sent by a browser on its own, so bearer requests need no CSRF check;
a cookie is, so every state-changing request a cookie authenticates must also carry a token
only our own pages can know: ``X-CSRF-Token`` (fetches) or the ``csrf`` form field (forms).

The token is an HMAC, under a key derived from the drive's token key, of what the browser
holds: the session token when signed in (the CSRF token dies with the session), else a random
pre-session nonce kept in its own cookie (the sign-in and first-run forms). It is stateless
(nothing stored server-side) and compared in constant time. The session cookie is also
``SameSite=Strict``: this token is the second, independent line.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

NONCE_COOKIE = "cv_csrf"
"""The pre-session nonce cookie (HttpOnly, SameSite=Strict): binds the sign-in forms' token."""
HEADER = "x-csrf-token"
FORM_FIELD = "csrf"
SAFE_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})


def csrf_key(token_key: bytes) -> bytes:
    """The CSRF key: a subkey of the drive's token-signing key (never the key itself)."""
    return hmac.new(token_key, b"cordvault csrf v1", hashlib.sha256).digest()


def new_nonce() -> str:
    return secrets.token_urlsafe(24)


def csrf_token(key: bytes, binding: str) -> str:
    """The CSRF token for ``binding`` (a session token or a pre-session nonce)."""
    return hmac.new(key, binding.encode(), hashlib.sha256).hexdigest()


def csrf_valid(key: bytes, binding: str | None, presented: str | None) -> bool:
    """Whether ``presented`` is the token for ``binding`` (False when either is missing)."""
    if not binding or not presented:
        return False
    return hmac.compare_digest(csrf_token(key, binding), presented)
