"""What the console's open streams share in one notify instance (a nameko dependency): the signal a consumer
fires after writing a feed line, the count of streams per key, and the keys file to end a revoked key's stream."""

from __future__ import annotations

from eventlet.event import Event as GreenEvent
from nameko.extensions import DependencyProvider

from services.kernel.keys import KeyStore

KEEPALIVE_SECONDS = 15.0
# open streams per key and notify instance: enough for a monitor's tabs and a reconnection's overlap, not for a
# leaked key to hold the server's connections
MAX_STREAMS_PER_KEY = 10


class ConsoleRuntime(DependencyProvider):
    """What open streams share. They wait on the current signal; a consumer that wrote a feed line fires it
    and arms a new one. Streams also poll, so that a line written by another notify instance still arrives,
    a second later. And the keys file, to end the stream of a key revoked meanwhile."""

    def setup(self):
        self._event = GreenEvent()
        self.stopping = False
        path = self.container.config.get("KEYS_FILE")
        self.keys = KeyStore(path) if path else None
        console_cfg = self.container.config.get("CONSOLE") or {}
        self.keepalive = float(console_cfg.get("KEEPALIVE_SECONDS") or KEEPALIVE_SECONDS)
        self.max_streams = int(console_cfg.get("MAX_STREAMS_PER_KEY") or MAX_STREAMS_PER_KEY)
        if self.max_streams < 1:
            raise ValueError("CONSOLE.MAX_STREAMS_PER_KEY must be at least 1")
        self.streams: dict[str, int] = {}  # key id → streams open in this instance

    def stop(self):
        self.stopping = True
        self.fire()

    def current(self) -> GreenEvent:
        return self._event

    def fire(self) -> None:
        event, self._event = self._event, GreenEvent()
        event.send(True)

    def open_stream(self, key_id: str):
        """A slot for one more stream of this key (its release function), or None when the key has its maximum
        open. The release is idempotent: the response's close and the stream's own end both call it."""
        if self.streams.get(key_id, 0) >= self.max_streams:
            return None
        self.streams[key_id] = self.streams.get(key_id, 0) + 1
        released = False

        def release():
            nonlocal released
            if not released:
                released = True
                left = self.streams.get(key_id, 1) - 1
                if left > 0:
                    self.streams[key_id] = left
                else:
                    self.streams.pop(key_id, None)

        return release

    def key_valid(self, key_id: str) -> bool:
        try:
            return self.keys is not None and any(k.key_id == key_id for k in self.keys.list())
        except ValueError:  # a corrupt keys file lets no one in
            return False

    def get_dependency(self, worker_ctx):
        return self
