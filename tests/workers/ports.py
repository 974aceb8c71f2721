"""Local TCP ports for servers a test starts later, or for a server that must not be there."""

from __future__ import annotations

import socket
from types import TracebackType


class ReservedPort:
    """A port on 127.0.0.1 held until `release()` (or the end of the `with` block): bound, so no
    other socket can take it -- not even as the local end of an outgoing connection -- and not
    listening, so a connection to it is refused at once, as by a mail server that is down.

    A port merely found free (`free_port()`) is up for grabs for as long as the test takes
    before its server binds it; a reserved one only between `release()` and that bind."""

    def __init__(self) -> None:
        self._socket = socket.socket()
        self._socket.bind(("127.0.0.1", 0))
        self.port: int = self._socket.getsockname()[1]

    def release(self) -> None:
        """Free the port for the server about to bind it (idempotent)."""
        self._socket.close()

    def __enter__(self) -> ReservedPort:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.release()
