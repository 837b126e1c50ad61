"""Running the emulator: uvicorn in a background thread, for tests and the CLI runner.

``with running_emulator(config) as emu:`` starts it on a free 127.0.0.1 port and yields an
:class:`EmulatorHandle` (``base_url``, ``api_base``, ``state``, ``token``); leaving the block
stops the server and deletes stored attachments. Tests in any area can use it::

    from cordvault.discord.emulator import EmulatorConfig, running_emulator

    @pytest.fixture
    def discord_emulator():
        with running_emulator(EmulatorConfig().add_channels("111")) as emu:
            yield emu

Connection resets are real: the HTTP protocol class below gives each request an ASGI extension
(``cordvault.abort``) that aborts the TCP connection, which fault rules of kind ``reset`` and
``drop_response`` use. uvicorn's own ``uvicorn.error`` logger is left alone.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import uvicorn
from uvicorn.protocols.http.httptools_impl import HttpToolsProtocol

from cordvault.discord.emulator.app import ABORT_EXTENSION, API_PREFIX, create_app
from cordvault.discord.emulator.faults import FaultRule
from cordvault.discord.emulator.state import EmulatorConfig, EmulatorState


class AbortableHttpProtocol(HttpToolsProtocol):
    """uvicorn's httptools protocol plus an ASGI extension that aborts the connection."""

    def on_headers_complete(self) -> None:
        super().on_headers_complete()
        # The request's task was only scheduled by the call above, so it sees this entry.
        extensions = self.scope.setdefault("extensions", {})
        extensions[ABORT_EXTENSION] = {"abort": self.transport.abort}


@dataclass
class EmulatorHandle:
    """A running emulator: where it listens and its live state."""

    base_url: str
    state: EmulatorState

    @property
    def api_base(self) -> str:
        """What to give :class:`~cordvault.discord.client.DiscordClient` as ``api_base``."""
        return self.base_url + API_PREFIX

    @property
    def token(self) -> str:
        """A valid bot token (the first configured one)."""
        return sorted(self.state.config.tokens)[0]

    def add_fault(self, rule: FaultRule) -> FaultRule:
        return self.state.faults.add(rule)


@contextmanager
def running_emulator(
    config: EmulatorConfig | None = None, *, host: str = "127.0.0.1", port: int = 0
) -> Iterator[EmulatorHandle]:
    """Serve the emulator in a daemon thread until the block ends (``port=0``: a free port)."""
    state = EmulatorState(config or EmulatorConfig())
    server = uvicorn.Server(
        uvicorn.Config(
            create_app(state),
            host=host,
            port=port,
            http=AbortableHttpProtocol,
            ws="none",
            lifespan="off",
            log_level="warning",
            access_log=False,
        )
    )
    thread = threading.Thread(target=server.run, name="discord-emulator", daemon=True)
    thread.start()
    try:
        deadline = time.monotonic() + 10
        while not server.started:
            if not thread.is_alive() or time.monotonic() > deadline:
                raise RuntimeError("the Discord emulator did not start")
            time.sleep(0.01)
        bound = server.servers[0].sockets[0].getsockname()
        yield EmulatorHandle(base_url=f"http://{host}:{bound[1]}", state=state)
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        state.close()
