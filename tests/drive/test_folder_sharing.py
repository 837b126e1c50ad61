"""Folder shares and public folders: inherited access everywhere (REST, zip, file links,
folder links), moving in and out of a shared folder, revocation, trash. SQLite and PostgreSQL."""

from __future__ import annotations

import io
import zipfile
from typing import Any

from tests.drive.support import DriveEnv

SECRET = b"inherited secret " * 100


def _setup(env: DriveEnv) -> tuple[dict[str, dict[str, str]], str, dict[str, Any]]:
    admin = env.register("adam")
    h = {n: env.add_user(admin, n) for n in ("olga", "rita", "will", "oscar")}
    top = env.mkdir(h["olga"], "/team/deep/er")
    f = env.put(h["olga"], "/team/deep/er/plan.txt", SECRET)
    team = env.client.get("/api/drive/resolve", params={"path": "/team"}, headers=h["olga"])
    team_id = team.json()["folder"]["id"]
    for user, level in (("rita", "read"), ("will", "write")):
        r = env.client.put(
            f"/api/drive/folders/{team_id}/shares/{user}", json={"access": level}, headers=h["olga"]
        )
        assert r.status_code == 200, r.text
    assert top["id"]
    return h, team_id, f


def _read(env: DriveEnv, h: dict[str, str], file_id: str) -> int:
    return env.client.get(f"/api/drive/files/{file_id}/content", headers=h).status_code


def test_inherited_access_applies_everywhere_and_to_later_files(env: DriveEnv) -> None:
    h, team_id, f = _setup(env)
    c = env.client
    assert [_read(env, h[u], f["id"]) for u in ("rita", "will", "oscar")] == [200, 200, 403]
    assert c.get(f"/api/drive/files/{f['id']}", headers=h["rita"]).json()["access"] == "read"
    assert c.get(f"/api/drive/files/{f['id']}", headers=h["will"]).json()["access"] == "write"
    # will (write) adds a file deep inside: olga (folder owner) and rita (read) read it.
    deep = c.get("/api/drive/resolve", params={"path": "/team/deep"}, headers=h["will"]).json()
    later = env.put(h["will"], "/team/deep/later.txt", b"added later")
    assert [_read(env, h[u], later["id"]) for u in ("olga", "rita", "oscar")] == [200, 200, 403]
    r = c.post(
        "/api/drive/folders",
        json={"parent_id": deep["folder"]["id"], "name": "w"},
        headers=h["rita"],
    )
    assert r.status_code == 403  # read share: no adding
    # Zip of the shared tree: rita gets both files, oscar none.
    z = c.get(f"/api/drive/folders/{team_id}/zip", headers=h["rita"])
    names = zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert "deep/er/plan.txt" in names
    assert "deep/later.txt" in names
    assert (
        c.get(f"/api/drive/folders/{team_id}/zip", headers=h["oscar"]).headers["x-skipped-files"]
        == "2"
    )
    # A file link made by rita works while her folder share lasts.
    link = c.post(f"/api/drive/files/{f['id']}/links", json={}, headers=h["rita"]).json()
    assert c.get(f"/api/drive/dl/{link['token']}").content == SECRET
    shared = c.get("/api/drive/shared/folders", headers=h["rita"]).json()
    assert [(s["folder"]["id"], s["access"]) for s in shared] == [(team_id, "read")]
    # Revocation: at once, the link with it; rita may also drop a share herself.
    assert (
        c.delete(f"/api/drive/folders/{team_id}/shares/rita", headers=h["olga"]).status_code == 204
    )
    assert _read(env, h["rita"], f["id"]) == 403
    assert c.get(f"/api/drive/dl/{link['token']}").status_code == 400
    assert (
        c.delete(f"/api/drive/folders/{team_id}/shares/will", headers=h["will"]).status_code == 204
    )
    assert _read(env, h["will"], f["id"]) == 403


def test_moving_in_and_out_of_a_shared_folder(env: DriveEnv) -> None:
    h, team_id, f = _setup(env)
    c = env.client
    private = env.put(h["olga"], "/private.txt", SECRET)
    assert _read(env, h["rita"], private["id"]) == 403
    c.patch(f"/api/drive/files/{private['id']}", json={"folder_id": team_id}, headers=h["olga"])
    assert _read(env, h["rita"], private["id"]) == 200  # moved in: shared
    c.patch(f"/api/drive/files/{private['id']}", json={"folder_id": "root"}, headers=h["olga"])
    assert _read(env, h["rita"], private["id"]) == 403  # moved out: no longer
    # A whole folder moved out takes its files out of the grant.
    er = c.get("/api/drive/resolve", params={"path": "/team/deep/er"}, headers=h["olga"]).json()
    c.patch(
        f"/api/drive/folders/{er['folder']['id']}", json={"parent_id": "root"}, headers=h["olga"]
    )
    assert _read(env, h["rita"], f["id"]) == 403
    # will (write share) may move a file of the shared folder out, into a folder he may add to.
    later = env.put(h["olga"], "/team/x.txt", b"x")
    r = c.patch(f"/api/drive/files/{later['id']}", json={"folder_id": "root"}, headers=h["will"])
    assert r.status_code == 200
    assert _read(env, h["will"], later["id"]) == 403  # out of the share, not his


def test_public_folders_folder_links_and_trash(env: DriveEnv) -> None:
    h, team_id, f = _setup(env)
    c = env.client
    assert _read(env, h["oscar"], f["id"]) == 403
    r = c.patch(f"/api/drive/folders/{team_id}", json={"public": True}, headers=h["oscar"])
    assert r.status_code == 403
    r = c.patch(f"/api/drive/folders/{team_id}", json={"public": True}, headers=h["olga"])
    assert r.json()["public"] is True
    assert _read(env, h["oscar"], f["id"]) == 200
    assert _read(env, {}, f["id"]) == 401  # public means signed-in users
    c.patch(f"/api/drive/folders/{team_id}", json={"public": False}, headers=h["olga"])
    assert _read(env, h["oscar"], f["id"]) == 403
    # Folder links: listing, a file below, zip; oscar may not create one.
    assert (
        c.post(f"/api/drive/folders/{team_id}/links", json={}, headers=h["oscar"]).status_code
        == 403
    )
    link = c.post(f"/api/drive/folders/{team_id}/links", json={}, headers=h["rita"]).json()
    token = link["token"]
    listing = c.get(f"/api/drive/fl/{token}", params={"path": "deep/er"}).json()
    assert [i["name"] for i in listing["items"]] == ["plan.txt"]
    assert listing["items"][0]["sha256"] is not None
    assert c.get(f"/api/drive/fl/{token}/files/{f['id']}").content == SECRET
    outside = env.put(h["olga"], "/outside.txt", b"o")
    assert c.get(f"/api/drive/fl/{token}/files/{outside['id']}").status_code == 404
    z = c.get(f"/api/drive/fl/{token}/zip")
    assert "deep/er/plan.txt" in zipfile.ZipFile(io.BytesIO(z.content)).namelist()
    assert c.get(f"/api/drive/fl/{token}x").status_code == 400
    assert c.get(f"/api/drive/dl/{token}").status_code == 400  # not a file link
    # Trashing the folder silences its links and shares; restoring revives them.
    assert c.delete(f"/api/drive/folders/{team_id}", headers=h["olga"]).status_code == 200
    assert c.get(f"/api/drive/fl/{token}").status_code == 400
    assert _read(env, h["rita"], f["id"]) == 404
    [entry] = c.get("/api/drive/trash", headers=h["olga"]).json()["items"]
    c.post(f"/api/drive/trash/{entry['id']}/restore", json={}, headers=h["olga"])
    assert c.get(f"/api/drive/fl/{token}").status_code == 200
    assert _read(env, h["rita"], f["id"]) == 200
    # Revoking the folder link ends it.
    assert c.delete(f"/api/drive/folder-links/{link['id']}", headers=h["olga"]).status_code == 204
    assert c.get(f"/api/drive/fl/{token}").status_code == 400
