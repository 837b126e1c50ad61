"""What the Dumpus app does with a processed package: fetch the blob URL, decrypt, open, query."""

from __future__ import annotations

import gzip
import hashlib
import sqlite3
from pathlib import Path
from typing import Any

import httpx
from cryptography.hazmat.primitives import padding
from cryptography.hazmat.primitives.ciphers import Cipher, algorithms, modes


def decrypt_like_client(ciphertext: bytes, iv_hex: str, upn: str) -> bytes:
    """AES-256-CBC with key SHA-256(UPN), PKCS7 unpad, gunzip -> the SQLite file bytes."""
    key = hashlib.sha256(upn.encode()).digest()
    decryptor = Cipher(algorithms.AES256(key), modes.CBC(bytes.fromhex(iv_hex))).decryptor()
    padded = decryptor.update(ciphertext) + decryptor.finalize()
    unpadder = padding.PKCS7(128).unpadder()
    return gzip.decompress(unpadder.update(padded) + unpadder.finalize())


def open_and_query(sqlite_bytes: bytes, workdir: Path) -> dict[str, Any]:
    """Open the database like sql.js does (from bytes) and run a few of the client's queries."""
    path = workdir / "client.sqlite"
    path.write_bytes(sqlite_bytes)
    conn = sqlite3.connect(path)
    try:
        owner = conn.execute("SELECT package_id, package_owner_name FROM package_data").fetchone()
        messages = conn.execute(
            "SELECT SUM(occurence_count) FROM activity WHERE event_name = 'message_sent'"
        ).fetchone()[0]
        top_dms = conn.execute(
            "SELECT dm_user_id, total_message_count FROM dm_channels_data "
            "ORDER BY total_message_count DESC LIMIT 3"
        ).fetchall()
        guilds = conn.execute("SELECT COUNT(*) FROM guilds").fetchone()[0]
    finally:
        conn.close()
    return {"owner": owner, "messages": messages, "top_dms": top_dms, "guilds": guilds}


def fetch_blob(client: Any, url: str) -> bytes:
    """GET the absolute blob URL (through the test client or plain httpx)."""
    if isinstance(client, httpx.Client) or hasattr(client, "get"):
        response = client.get(url, headers={"Origin": "https://dumpus.app"})
        assert response.status_code == 200, response.text
        assert response.headers.get("access-control-allow-origin") in ("*", "https://dumpus.app")
        return bytes(response.content)
    raise TypeError("need a client")
