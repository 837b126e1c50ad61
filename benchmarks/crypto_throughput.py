"""Benchmark: drive chunk encryption and decryption throughput, single thread.

Usage: .venv/bin/python benchmarks/crypto_throughput.py [--chunk-mib 8] [--rounds 8]

Measures, on one core: ``encrypt_chunk`` and ``decrypt_chunk`` of a whole chunk (MB/s of
plaintext), the same bytes through one bare AES-256-GCM call (the floor: what segmenting costs
on top), a 1 KiB ``decrypt_range`` (latency), and file-key wrap/unwrap (operations/s). Prints
a Markdown table for docs/benchmarks.md ("Drive crypto"). Best of ``--rounds`` runs is kept, so
noise from other processes on a shared machine inflates nothing.
"""

from __future__ import annotations

import argparse
import base64
import os
import platform
import time
from collections.abc import Callable

from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from cordvault.crypto import (
    ChunkContext,
    MasterKeyring,
    ciphertext_size,
    decrypt_chunk,
    decrypt_range,
    encrypt_chunk,
    new_file_key,
    unwrap_file_key,
    wrap_file_key,
)


def best_of(rounds: int, fn: Callable[[], object]) -> float:
    best = float("inf")
    for _ in range(rounds):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--chunk-mib", type=int, default=8)
    parser.add_argument("--rounds", type=int, default=8)
    args = parser.parse_args()

    size = args.chunk_mib * 1024 * 1024
    mb = size / 1e6
    key = new_file_key()
    ctx = ChunkContext("bench-file", 0, is_last=True)
    plain = os.urandom(size)
    envelope = encrypt_chunk(key, ctx, plain)
    aead = AESGCM(key)
    nonce = os.urandom(12)
    sealed = aead.encrypt(nonce, plain, b"")

    enc = best_of(args.rounds, lambda: encrypt_chunk(key, ctx, plain))
    dec = best_of(args.rounds, lambda: decrypt_chunk(key, ctx, envelope))
    raw_enc = best_of(args.rounds, lambda: aead.encrypt(nonce, plain, b""))
    raw_dec = best_of(args.rounds, lambda: aead.decrypt(nonce, sealed, b""))

    def tail_read() -> None:
        for _ in range(1000):
            decrypt_range(key, ctx, size, size - 1024, size, lambda a, b: envelope[a:b])

    tail = best_of(args.rounds, tail_read) / 1000

    ring = MasterKeyring.from_base64(base64.b64encode(os.urandom(32)).decode())
    wrapped = wrap_file_key(ring, key, "bench-file")

    def wraps() -> None:
        for _ in range(10_000):
            wrap_file_key(ring, key, "bench-file")

    def unwraps() -> None:
        for _ in range(10_000):
            unwrap_file_key(ring, wrapped, "bench-file")

    wrap_s = best_of(3, wraps) / 10_000
    unwrap_s = best_of(3, unwraps) / 10_000

    overhead = (ciphertext_size(size) - size) / size * 100
    print(f"Drive crypto, {args.chunk_mib} MiB chunks, best of {args.rounds}, one thread, ")
    print(f"{platform.processor() or platform.machine()}, Python {platform.python_version()}\n")
    print("| measure | result |")
    print("|---|---|")
    print(f"| encrypt_chunk | {mb / enc:,.0f} MB/s |")
    print(f"| decrypt_chunk | {mb / dec:,.0f} MB/s |")
    print(f"| bare AES-256-GCM encrypt, one call (floor) | {mb / raw_enc:,.0f} MB/s |")
    print(f"| bare AES-256-GCM decrypt, one call (floor) | {mb / raw_dec:,.0f} MB/s |")
    print(f"| decrypt_range, last 1 KiB of the chunk | {tail * 1e6:,.1f} µs |")
    print(f"| wrap_file_key | {1 / wrap_s:,.0f} ops/s |")
    print(f"| unwrap_file_key | {1 / unwrap_s:,.0f} ops/s |")
    print(f"| ciphertext overhead | {overhead:.3f} % (28 B per 64 KiB segment + 5 B) |")


if __name__ == "__main__":
    main()
