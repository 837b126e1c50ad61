"""The authorization matrix: every drive route x every role -> the expected status.

Roles, relative to a file ``/o/f.txt`` of ``olga``: ``owner``; ``read`` and ``write`` (users
the file is shared with; in the *inherited* run, users the folder ``/o`` is shared with
instead, so every content rule is checked for inherited access too); ``other`` (a plain
user); ``admin`` (an administrator who is not the owner: admins manage accounts, they get no
content access); ``anon`` (no token). Routes that
change things act on a fresh resource per case, so the cases are independent. Besides the
status, every answer is checked not to carry content its caller may not read.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest
from tests.drive.support import DriveEnv, random_bytes, sha

ROLES = ("owner", "read", "write", "other", "admin", "anon")
SECRET = random_bytes(3000, seed=42)  # the private content no unauthorised caller may see
_counter = itertools.count()


@dataclass
class World:
    env: DriveEnv
    headers: dict[str, dict[str, str]]
    folder: str
    file: str
    upload: str
    link_token: str
    names: dict[str, str] = field(default_factory=dict)
    via_folder: bool = False

    def fresh_file(self) -> str:
        """A new private file of olga in /o, shared like /o/f.txt (inherited: by /o itself)."""
        name = f"fresh-{next(_counter)}.txt"
        f = self.env.put(self.headers["owner"], f"/o/{name}", SECRET)
        self.names["last_fresh"] = name
        if self.via_folder:
            return str(f["id"])
        for role, level in (("read", "read"), ("write", "write")):
            r = self.env.client.put(
                f"/api/drive/files/{f['id']}/shares/{self.names[role]}",
                json={"access": level},
                headers=self.headers["owner"],
            )
            assert r.status_code == 200
        return str(f["id"])

    def fresh_folder(self) -> str:
        return str(self.env.mkdir(self.headers["owner"], f"/o/dir-{next(_counter)}")["id"])

    def fresh_trash(self) -> str:
        """A trash entry of olga's (a file of hers, deleted)."""
        f = self.env.put(self.headers["owner"], f"/o/gone-{next(_counter)}.txt", SECRET)
        self.env.client.delete(f"/api/drive/files/{f['id']}", headers=self.headers["owner"])
        items = self.env.client.get("/api/drive/trash", headers=self.headers["owner"]).json()
        return str(items["items"][0]["id"])

    def fresh_upload(self) -> str:
        body = {
            "folder_id": self.folder,
            "name": f"up-{next(_counter)}",
            "size": 3,
            "sha256": sha(b"abc"),
        }
        r = self.env.client.post("/api/drive/uploads", json=body, headers=self.headers["owner"])
        return str(r.json()["id"])


def _world(env: DriveEnv, *, via_folder: bool = False) -> World:
    admin = env.register("adam")
    names = {"owner": "olga", "read": "rita", "write": "will", "other": "oscar"}
    headers = {role: env.add_user(admin, name) for role, name in names.items()}
    headers["admin"] = admin
    headers["anon"] = {}
    names["admin"] = "adam"
    folder = env.mkdir(headers["owner"], "/o")["id"]
    owner = headers["owner"]
    f = env.put(owner, "/o/f.txt", SECRET)
    for role, level in (("read", "read"), ("write", "write")):
        what = f"folders/{folder}" if via_folder else f"files/{f['id']}"
        r = env.client.put(
            f"/api/drive/{what}/shares/{names[role]}", json={"access": level}, headers=owner
        )
        assert r.status_code == 200, r.text
    link = env.client.post(f"/api/drive/files/{f['id']}/links", json={}, headers=owner).json()
    up = env.client.post(
        "/api/drive/uploads",
        json={"folder_id": folder, "name": "up", "size": 3, "sha256": sha(b"abc")},
        headers=owner,
    ).json()
    return World(env, headers, folder, f["id"], up["id"], link["token"], names, via_folder)


@dataclass(frozen=True)
class Case:
    name: str
    method: str
    path: str  # {folder} {file} {upload} {token} {fresh_file} {fresh_folder} {fresh_upload}
    expected: tuple[int, int, int, int, int, int]  # owner, read, write, other, admin, anon
    inherited: tuple[int, int, int, int, int, int] | None = None  # when shared via /o
    body: Callable[[World], Any] | None = None
    content: bytes | None = None  # body sent raw
    headers: dict[str, str] = field(default_factory=dict)
    returns_secret: bool = False  # a 2xx answer must be exactly the secret bytes
    reveals: tuple[str, ...] = ()  # roles whose answer may contain the secret


def _json(value: Any) -> Callable[[World], Any]:
    return lambda _w: value


ALL_200 = (200, 200, 200, 200, 200, 401)
READERS = (200, 200, 200, 403, 403, 401)
OWNER_ONLY = (200, 403, 403, 403, 403, 401)
WRITERS = (200, 403, 200, 403, 403, 401)
UPLOADER = (200, 404, 404, 404, 404, 401)

CASES = [
    Case("list root", "GET", "/api/drive/folders/root", ALL_200),
    Case("list folder", "GET", "/api/drive/folders/{folder}", ALL_200),
    Case("resolve path", "GET", "/api/drive/resolve?path=/o/f.txt", ALL_200),
    Case("stat file", "GET", "/api/drive/files/{file}", ALL_200),
    Case("folder usage", "GET", "/api/drive/folders/{folder}/usage", ALL_200),
    Case("shared with me", "GET", "/api/drive/shared", ALL_200),
    Case("search users", "GET", "/api/auth/users?q=o", ALL_200),
    Case("me", "GET", "/api/auth/me", ALL_200),
    Case(
        "download",
        "GET",
        "/api/drive/files/{file}/content",
        READERS,
        returns_secret=True,
        reveals=("owner", "read", "write"),
    ),
    Case(
        "download range",
        "GET",
        "/api/drive/files/{file}/content",
        (206, 206, 206, 403, 403, 401),
        headers={"range": "bytes=10-19"},
    ),
    Case("download head", "HEAD", "/api/drive/files/{file}/content", READERS),
    Case(
        "zip folder",
        "GET",
        "/api/drive/folders/{folder}/zip",
        ALL_200,
        reveals=("owner", "read", "write"),
    ),
    Case(
        "create link",
        "POST",
        "/api/drive/files/{file}/links",
        (201, 201, 201, 403, 403, 401),
        body=_json({}),
    ),
    Case("list links", "GET", "/api/drive/files/{file}/links", ALL_200),
    Case(
        "signed link (no account)",
        "GET",
        "/api/drive/dl/{token}",
        (200, 200, 200, 200, 200, 200),
        returns_secret=True,
        reveals=ROLES,
    ),
    Case("list shares", "GET", "/api/drive/files/{file}/shares", OWNER_ONLY),
    Case(
        "share",
        "PUT",
        "/api/drive/files/{fresh_file}/shares/oscar",
        OWNER_ONLY,
        body=_json({"access": "read"}),
    ),
    Case(
        "unshare",
        "DELETE",
        "/api/drive/files/{fresh_file}/shares/rita",
        (204, 204, 403, 403, 403, 401),
        inherited=(404, 404, 403, 403, 403, 401),  # no file share to drop
    ),  # rita may drop her own share
    Case(
        "rename file",
        "PATCH",
        "/api/drive/files/{fresh_file}",
        WRITERS,
        body=lambda w: {"name": f"renamed-{next(_counter)}.txt"},
    ),
    Case(
        "publish file",
        "PATCH",
        "/api/drive/files/{fresh_file}",
        OWNER_ONLY,
        body=_json({"public": True}),
    ),
    Case(
        "move file to root",
        "PATCH",
        "/api/drive/files/{fresh_file}",
        WRITERS,
        body=lambda w: {"folder_id": "root", "name": f"moved-{next(_counter)}.txt"},
    ),
    Case("delete file", "DELETE", "/api/drive/files/{fresh_file}", (204, 403, 403, 403, 403, 401)),
    Case(
        "transfer ownership",
        "POST",
        "/api/drive/files/{fresh_file}/owner",
        OWNER_ONLY,
        body=_json({"user": "oscar"}),
    ),
    Case("revoke links", "DELETE", "/api/drive/files/{fresh_file}/links", WRITERS),
    Case(
        "overwrite content",
        "PUT",
        "/api/drive/upload?folder_id={folder}&name={fresh_name}&on_conflict=overwrite",
        (201, 403, 201, 403, 403, 401),
        content=b"new content",
    ),
    Case(
        "create subfolder",
        "POST",
        "/api/drive/folders",
        (201, 403, 403, 403, 403, 401),
        inherited=(201, 403, 201, 403, 403, 401),  # a write share on /o adds below it
        body=lambda w: {"parent_id": w.folder, "name": f"sub-{next(_counter)}"},
    ),
    Case(
        "create in root",
        "POST",
        "/api/drive/folders",
        (201, 201, 201, 201, 201, 401),
        body=lambda w: {"parent_id": "root", "name": f"top-{next(_counter)}"},
    ),
    Case(
        "rename folder",
        "PATCH",
        "/api/drive/folders/{fresh_folder}",
        OWNER_ONLY,
        body=lambda w: {"name": f"r-{next(_counter)}"},
    ),
    Case("delete folder", "DELETE", "/api/drive/folders/{fresh_folder}", OWNER_ONLY),
    Case(
        "merge folder",
        "POST",
        "/api/drive/folders/{fresh_folder}/merge",
        OWNER_ONLY,
        body=lambda w: {"into": w.folder},
    ),
    Case(
        "upload into folder",
        "POST",
        "/api/drive/uploads",
        (201, 403, 403, 403, 403, 401),
        inherited=(201, 403, 201, 403, 403, 401),
        body=lambda w: {
            "folder_id": w.folder,
            "name": f"n-{next(_counter)}",
            "size": 1,
            "sha256": sha(b"x"),
        },
    ),
    Case("upload status", "GET", "/api/drive/uploads/{upload}", UPLOADER),
    Case(
        "upload chunk",
        "PUT",
        "/api/drive/uploads/{fresh_upload}/chunks/0",
        UPLOADER,
        content=b"abc",
    ),
    Case(
        "complete upload",
        "POST",
        "/api/drive/uploads/{fresh_upload}/complete",
        (409, 404, 404, 404, 404, 401),
    ),  # the owner gets further: chunks are missing
    Case(
        "abort upload",
        "DELETE",
        "/api/drive/uploads/{fresh_upload}",
        (204, 404, 404, 404, 404, 401),
    ),
    # -- trash, versions, quotas, search, folder sharing (issue 16) --
    Case("list own trash", "GET", "/api/drive/trash", ALL_200),
    Case(
        "restore from trash",
        "POST",
        "/api/drive/trash/{fresh_trash}/restore",
        (200, 404, 404, 404, 404, 401),  # another user's trash entry is as good as absent
        body=_json({}),
    ),
    Case("purge from trash", "DELETE", "/api/drive/trash/{fresh_trash}", UPLOADER),
    Case("empty own trash", "DELETE", "/api/drive/trash", ALL_200),
    Case("list versions", "GET", "/api/drive/files/{file}/versions", READERS),
    Case("own quota", "GET", "/api/drive/quota", ALL_200),
    Case("all quotas", "GET", "/api/drive/quotas", (403, 403, 403, 403, 200, 401)),
    Case(
        "set quota",
        "PUT",
        "/api/drive/quotas/oscar",
        (403, 403, 403, 403, 200, 401),
        body=_json({"limit": "default"}),
    ),
    Case("search", "GET", "/api/drive/search?q=f.txt", ALL_200),
    Case("list folder shares", "GET", "/api/drive/folders/{folder}/shares", OWNER_ONLY),
    Case(
        "share folder",
        "PUT",
        "/api/drive/folders/{fresh_folder}/shares/oscar",
        OWNER_ONLY,
        body=_json({"access": "read"}),
    ),
    Case(
        "publish folder",
        "PATCH",
        "/api/drive/folders/{fresh_folder}",
        OWNER_ONLY,
        body=_json({"public": True}),
    ),
    Case("folders shared with me", "GET", "/api/drive/shared/folders", ALL_200),
    Case(
        "create folder link",
        "POST",
        "/api/drive/folders/{folder}/links",
        (201, 403, 403, 403, 403, 401),
        body=_json({}),
        inherited=(201, 201, 201, 403, 403, 401),  # read inherited at /o suffices
    ),
    Case(
        "create user",
        "POST",
        "/api/auth/users",
        (403, 403, 403, 403, 201, 401),
        body=lambda w: {"name": f"new{next(_counter)}", "password": "long enough pw"},
    ),
    Case(
        "manage user",
        "PATCH",
        "/api/auth/users/{other_id}",
        (403, 403, 403, 403, 200, 401),
        body=_json({"is_admin": False}),
    ),
]


@pytest.mark.parametrize("via_folder", [False, True], ids=["direct", "inherited"])
def test_every_route_for_every_role(env: DriveEnv, via_folder: bool) -> None:
    w = _world(env, via_folder=via_folder)
    other_id = env.client.get("/api/auth/me", headers=w.headers["other"]).json()["id"]
    failures: list[str] = []
    for case in CASES:
        expectations = case.inherited if via_folder and case.inherited else case.expected
        for role, expected in zip(ROLES, expectations, strict=True):
            values: dict[str, Any] = {
                "folder": w.folder,
                "file": w.file,
                "upload": w.upload,
                "token": w.link_token,
                "other_id": other_id,
            }
            if "{fresh_file}" in case.path:
                values["fresh_file"] = w.fresh_file()
            if "{fresh_name}" in case.path:
                w.fresh_file()
                values["fresh_name"] = w.names["last_fresh"]
            if "{fresh_folder}" in case.path:
                values["fresh_folder"] = w.fresh_folder()
            if "{fresh_upload}" in case.path:
                values["fresh_upload"] = w.fresh_upload()
            if "{fresh_trash}" in case.path:
                values["fresh_trash"] = w.fresh_trash()
            kwargs: dict[str, Any] = {"headers": {**w.headers[role], **case.headers}}
            if case.body is not None:
                kwargs["json"] = case.body(w)
            if case.content is not None:
                kwargs["content"] = case.content
            r = env.client.request(case.method, case.path.format(**values), **kwargs)
            if r.status_code != expected:
                failures.append(
                    f"{case.name} as {role}: {r.status_code} != {expected} {r.text[:80]}"
                )
            if role not in case.reveals or r.status_code >= 400:
                assert SECRET[:64] not in r.content, f"{case.name} as {role} leaked content"
            elif case.returns_secret:
                assert r.content == SECRET, f"{case.name} as {role}"
    assert not failures, "\n".join(failures)


def test_what_each_role_sees_in_listings_stat_zip_and_links(env: DriveEnv) -> None:
    w = _world(env)
    c = env.client
    for role in ("owner", "read", "write"):
        stat = c.get(f"/api/drive/files/{w.file}", headers=w.headers[role]).json()
        assert stat["sha256"] == sha(SECRET), role
        zipped = c.get(f"/api/drive/folders/{w.folder}/zip", headers=w.headers[role])
        assert zipped.headers["x-skipped-files"] == "0"
    for role in ("other", "admin"):
        stat = c.get(f"/api/drive/files/{w.file}", headers=w.headers[role]).json()
        assert (stat["sha256"], stat["access"]) == (None, "none")
        listing = c.get(f"/api/drive/folders/{w.folder}", headers=w.headers[role]).json()
        assert [i["sha256"] for i in listing["items"] if i["kind"] == "file"] == [None]
        zipped = c.get(f"/api/drive/folders/{w.folder}/zip", headers=w.headers[role])
        assert zipped.headers["x-skipped-files"] == "1"
        assert SECRET[:64] not in zipped.content
        # Link lists never hand out other people's tokens.
        assert c.get(f"/api/drive/files/{w.file}/links", headers=w.headers[role]).json() == []
    owner_links = c.get(f"/api/drive/files/{w.file}/links", headers=w.headers["owner"]).json()
    assert [x["token"] for x in owner_links] == [w.link_token]
    shared = c.get("/api/drive/shared", headers=w.headers["read"]).json()
    assert [f["id"] for f in shared] == [w.file]
    assert c.get("/api/drive/shared", headers=w.headers["other"]).json() == []
    # Public: every signed-in user reads it, anonymous still does not.
    c.patch(f"/api/drive/files/{w.file}", json={"public": True}, headers=w.headers["owner"])
    assert c.get(f"/api/drive/files/{w.file}/content", headers=w.headers["other"]).content == SECRET
    assert c.get(f"/api/drive/files/{w.file}/content").status_code == 401
    # Ownership transfer: the new owner reads; the old one keeps only what her folder /o
    # gives her (a folder's owner may write everything below it) ...
    c.patch(f"/api/drive/files/{w.file}", json={"public": False}, headers=w.headers["owner"])
    r = c.post(
        f"/api/drive/files/{w.file}/owner", json={"user": "oscar"}, headers=w.headers["owner"]
    )
    assert r.json()["access"] == "write"
    assert c.get(f"/api/drive/files/{w.file}/content", headers=w.headers["other"]).content == SECRET
    # ... and nothing for a file in the root, which nobody owns.
    top = env.put(w.headers["owner"], "/top-secret.bin", SECRET)
    r = c.post(
        f"/api/drive/files/{top['id']}/owner", json={"user": "oscar"}, headers=w.headers["owner"]
    )
    assert r.json()["access"] == "none"
    assert (
        c.get(f"/api/drive/files/{top['id']}/content", headers=w.headers["owner"]).status_code
        == 403
    )
