"""``PROPFIND Depth: 1`` of a folder without WsgiDAV's per-property loop and element tree.

WsgiDAV answers a listing by asking every member for every property one by one
(``get_properties`` -> ``get_property_value``: a lock-manager call, a getter dispatch and an
lxml element per property) and then serialising the tree; for 10,000 members that is seconds.
Here the same request is answered by :class:`ListingRequestServer`, a WsgiDAV request server
whose ``do_PROPFIND`` differs only for ``Depth: 1`` on a :class:`FolderResource`:

- members come from one listing (:meth:`DriveDavProvider.members`: paged queries, access
  levels and dead properties for the whole folder at once, no per-member lookups);
- each member's standard live properties (:meth:`_Entry.listing_properties`) are computed
  directly as text, in the order and with the values WsgiDAV's defaults give them; anything
  else (dead properties, ``quota-*``, unknown names, active locks) is asked from the resource
  exactly as WsgiDAV would (``get_property_value``);
- the multistatus is written as text: a member whose properties are all plain text or known
  fragments is written by :func:`_response`; any other member (an element value, a namespace
  other than ``DAV:``, a character that needs lxml's judgement) gets the ``<response>``
  WsgiDAV itself builds (``util.add_property_response``), serialised by lxml in the same
  context. Either way the bytes are those WsgiDAV would send (tests compare each member's
  ``<response>`` with WsgiDAV's own ``Depth: 0`` answer).

Everything else (``Depth: 0``, a file, no resource, bad bodies up to the point they are
detected) is WsgiDAV's own code path.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import Any
from urllib.parse import quote

from wsgidav import util, xml_tools
from wsgidav.dav_error import HTTP_BAD_REQUEST, DAVError
from wsgidav.lock_man.lock_manager import normalize_lock_root
from wsgidav.request_resolver import RequestResolver
from wsgidav.request_server import RequestServer

from cordvault.web.dav.resources import FolderResource, Xml

_ROOT = '<D:multistatus xmlns:D="DAV:">'
_HEAD = "<?xml version='1.0' encoding='UTF-8'?>\n" + _ROOT
_TAIL = "</D:multistatus>"
_OK = "200 OK"
_TAGS: dict[str, tuple[str, str, str]] = {}
_TAGS_KEPT = 256
_HREF_SAFE = "/!*'(),$-_|."  # WsgiDAV's get_href
# Text lxml would write differently from a plain escape, or refuse: leave it to lxml.
_UNUSUAL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\r\ud800-\udfff\ufffe\uffff]")


def _escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _tags(name: str) -> tuple[str, str, str] | None:
    """``(open, close, empty)`` tags of a ``DAV:`` property; None for other namespaces."""
    tags = _TAGS.get(name)
    if tags is None:
        if not name.startswith("{DAV:}"):
            return None
        tag = name[6:]
        tags = (f"<D:{tag}>", f"</D:{tag}>", f"<D:{tag}/>")
        if len(_TAGS) < _TAGS_KEPT:  # names come from clients: keep the cache bounded
            _TAGS[name] = tags
    return tags


def _response(href: str, props: list[tuple[str, Any]]) -> str | None:
    """One ``<D:response>`` as lxml writes it inside the multistatus, or None when a value
    is not plain (the caller then lets WsgiDAV build it)."""
    # One propstat per status, in order of each status's first property (as WsgiDAV).
    groups: dict[str, list[str]] = {}
    ok: list[str] | None = None
    for name, value in props:
        tags = _tags(name)
        if tags is None:
            return None
        if isinstance(value, DAVError):
            groups.setdefault(util.get_http_status_string(value), []).append(tags[2])
            continue
        if ok is None:
            ok = groups.setdefault(_OK, [])
        if isinstance(value, Xml):
            ok.append(value)
        elif isinstance(value, str):
            if "&" in value or "<" in value or ">" in value:
                value = _escape(value)
            ok += (tags[0], value, tags[1])
        elif value is None:
            ok.append(tags[2])
        else:
            return None
    out = ["<D:response><D:href>", _escape(href), "</D:href>"]
    for status, parts in groups.items():
        out.append("<D:propstat><D:prop>")
        out += parts
        out += ("</D:prop><D:status>HTTP/1.1 ", status, "</D:status></D:propstat>")
    out.append("</D:response>")
    text = "".join(out)
    # Tags hold none of these, so one search covers every value.
    return None if _UNUSUAL.search(text) else text


def _wsgidav_response(href: str, props: list[tuple[str, Any]]) -> str:
    """WsgiDAV's own ``<response>``, serialised as it would be inside the multistatus."""
    root = xml_tools.make_multistatus_el()
    plain = [(name, _element(v) if isinstance(v, Xml) else v) for name, v in props]
    util.add_property_response(root, href, plain)
    text: str = xml_tools.etree.tostring(root, encoding="unicode")
    return text[len(_ROOT) : -len(_TAIL)]


def _element(value: Xml) -> Any:
    """The element an :class:`Xml` fragment stands for (the fragments use the ``D`` prefix)."""
    return xml_tools.etree.fromstring(f'<x xmlns:D="DAV:">{value}</x>')[0]


class ListingRequestServer(RequestServer):  # type: ignore[misc]
    """WsgiDAV's request server with the folder-listing ``PROPFIND`` described above."""

    def do_PROPFIND(self, environ: dict[str, Any], start_response: Any) -> Any:
        # The text written here is lxml's form (WsgiDAV's ElementTree fallback writes ns0:).
        if environ.get("HTTP_DEPTH") != "1" or not xml_tools.use_lxml:
            return super().do_PROPFIND(environ, start_response)
        res = self._davProvider.get_resource_inst(environ["PATH_INFO"], environ)
        if not isinstance(res, FolderResource):
            # WsgiDAV looks the path up again: a file or nothing, one cheap query.
            return super().do_PROPFIND(environ, start_response)
        self._evaluate_if_headers(res, environ)
        mode, names = _parse(self, environ)
        roots = _lock_roots(self._davProvider, res)
        chunks = [_HEAD]
        parent_href = res.get_href()
        for n, child in enumerate(res.get_descendants(depth="1", add_self=True)):
            props = child.listing_properties(mode, names, roots)
            # WsgiDAV quotes each member's whole path; quoting is per character, so the
            # parent's href plus the quoted name is the same string.
            href = parent_href
            if n:
                href += quote(child.path.rsplit("/", 1)[1], safe=_HREF_SAFE)
                href += "/" if child.is_collection else ""
            chunks.append(_response(href, props) or _wsgidav_response(href, props))
        chunks.append(_TAIL)
        body = "".join(chunks).encode("utf-8")
        start_response(
            "207 Multi-Status",
            [
                ("Content-Type", "application/xml; charset=utf-8"),
                ("Date", util.get_rfc1123_time()),
                ("Content-Length", str(len(body))),
            ],
        )
        return [body]


def _lock_roots(provider: Any, res: FolderResource) -> frozenset[str] | None:
    """The lock roots at or below ``res`` (one lock-table scan): a member whose URL is not
    among them has no lock, so its ``lockdiscovery`` needs no lookup. None: no lock manager."""
    locks = provider.lock_manager
    if not locks:
        return None
    found = locks.get_url_lock_list(res.get_ref_url(), recursive=True)
    return frozenset(normalize_lock_root(lock["root"]) for lock in found)


def _parse(server: RequestServer, environ: dict[str, Any]) -> tuple[str, list[str] | None]:
    """The request's mode and names, with WsgiDAV's own checks (its ``do_PROPFIND``)."""
    request = util.parse_xml_body(environ, allow_empty=True)
    if request is None:
        return "allprop", None
    if request.tag != "{DAV:}propfind":
        server._fail(HTTP_BAD_REQUEST)
    names: list[str] = []
    mode: str | None = None
    for node in request:
        if node.tag == "{DAV:}allprop":
            if mode:
                server._fail(HTTP_BAD_REQUEST)
            mode = "allprop"
        elif node.tag == "{DAV:}name":
            if mode:
                server._fail(HTTP_BAD_REQUEST)
            mode = "name"
        elif node.tag == "{DAV:}prop":
            if mode not in (None, "named"):
                server._fail(HTTP_BAD_REQUEST)
            mode = "named"
            names += [n.tag for n in node]
    # WsgiDAV treats a body with none of the three as "named" with no names.
    return (mode or "named"), (names if mode in (None, "named") else None)


class ListingRequestResolver(RequestResolver):  # type: ignore[misc]
    """WsgiDAV's resolver, handing ``PROPFIND`` to :class:`ListingRequestServer`."""

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Iterable[bytes]:
        provider = environ.get("wsgidav.provider")
        if environ["REQUEST_METHOD"] != "PROPFIND" or provider is None:
            yield from super().__call__(environ, start_response)
            return
        app_iter = ListingRequestServer(provider)(environ, start_response)
        yield from app_iter
        if hasattr(app_iter, "close"):
            app_iter.close()
