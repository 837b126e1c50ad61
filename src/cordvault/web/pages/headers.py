"""Security headers on every answer: a strict Content-Security-Policy, Referrer-Policy and
framing refusal (``nosniff`` is added by ``web/middleware.py``), added by
``web.middleware.DefaultHeaders`` to every answer that does not set its own.

The default policy allows only our own origin: no inline script, no ``eval``, no remote origin,
``frame-ancestors 'none'`` (no page of ours can be framed), ``form-action 'self'``,
``base-uri 'none'``. ``'wasm-unsafe-eval'`` lets the upload page compile the vendored SHA-256
WebAssembly (hash-wasm) and the insights dashboard compile sql.js (in a worker, whose script
gets this policy too): it allows compiling wasm bytes the page already has, not evaluating
strings. Answers that set their own policy keep it: file content has its sandboxing policy
(``web/ranges.py``), the API docs pages allow the inline *styles* Swagger UI and ReDoc need
(still no inline script).
"""

from __future__ import annotations

PAGE_CSP = (
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self'; "
    "img-src 'self' data: blob:; media-src 'self' blob:; font-src 'self'; "
    "connect-src 'self'; worker-src 'self'; frame-src 'self'; object-src 'none'; "
    "base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
DOCS_CSP = (
    "default-src 'self'; script-src 'self'; style-src 'self' 'unsafe-inline'; "
    "img-src 'self' data:; font-src 'self' data:; connect-src 'self'; worker-src 'self' blob:; "
    "object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
PAGE_HEADERS: tuple[tuple[bytes, bytes], ...] = (
    (b"content-security-policy", PAGE_CSP.encode()),
    (b"referrer-policy", b"same-origin"),
    (b"x-frame-options", b"DENY"),
    (b"cross-origin-opener-policy", b"same-origin"),
    (b"permissions-policy", b"camera=(), microphone=(), geolocation=()"),
)
