"""Wake-ups between processes that share one SQLite database.

Every server process following a database binds a Unix datagram socket in a private folder
named after the database (``$XDG_RUNTIME_DIR`` or the temp folder, ``tryvoga-<uid>/<hash>``).
A process that commits events sends one empty datagram to every other socket there, and the
receivers check the log at once instead of at their next poll. The datagram carries nothing:
a lost, extra or forged one costs one cheap ``PRAGMA data_version`` check, and the poll stays
as the bound when a wake-up is lost (a full receive buffer, a writer that does not poke).
Sockets left by dead processes refuse datagrams and are removed by the next sender.
"""

from __future__ import annotations

import asyncio
import contextlib
import hashlib
import logging
import os
import secrets
import socket
import stat
import tempfile
from collections.abc import Callable
from pathlib import Path

log = logging.getLogger(__name__)

MAX_UNIX_PATH = 100  # sun_path is 108 bytes on Linux; keep a margin


def wake_dir(db_path: str) -> Path | None:
    """The folder of wake-up sockets for a database, or None where there can be none."""
    if db_path == ":memory:" or not hasattr(socket, "AF_UNIX"):
        return None
    real = os.path.realpath(os.path.expanduser(db_path))
    digest = hashlib.sha256(real.encode("utf-8")).hexdigest()[:20]
    base = os.environ.get("XDG_RUNTIME_DIR") or tempfile.gettempdir()
    return Path(base) / f"tryvoga-{os.getuid()}" / digest


def _private_dir(path: Path) -> bool:
    """Create the folder (and its parent) for this user only; refuse anyone else's."""
    for folder in (path.parent, path):
        try:
            folder.mkdir(mode=0o700, exist_ok=True)
            info = folder.lstat()
        except OSError as exc:
            log.warning("no cross-process wake-ups (polling only): %s: %s", folder, exc)
            return False
        if (not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid()
                or info.st_mode & 0o077):
            log.warning("no cross-process wake-ups (polling only): %s is not a private "
                        "folder of this user", folder)
            return False
    return True


class Waker:
    """Sends wake-ups to the other processes on a database, and receives its own."""

    def __init__(self, db_path: str) -> None:
        self.folder = wake_dir(db_path)
        if self.folder is not None and not _private_dir(self.folder):
            self.folder = None
        self.name = f"{os.getpid()}-{secrets.token_hex(4)}.sock"
        self._sender: socket.socket | None = None
        self._receiver: socket.socket | None = None
        self._loop: asyncio.AbstractEventLoop | None = None

    @property
    def enabled(self) -> bool:
        return self.folder is not None

    def poke(self) -> int:
        """Wake every other process on the database; returns how many were sent a datagram.

        Safe to call from any one thread (the writer thread calls it after each commit).
        """
        if self.folder is None:
            return 0
        if self._sender is None:
            self._sender = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
            self._sender.setblocking(False)
        sent = 0
        try:
            names = os.listdir(self.folder)
        except OSError:
            return 0
        for name in names:
            if name == self.name or not name.endswith(".sock"):
                continue
            path = os.path.join(self.folder, name)
            try:
                self._sender.sendto(b"", path)
                sent += 1
            except BlockingIOError:
                sent += 1  # its buffer is full of wake-ups it has not read yet: awake anyway
            except (ConnectionRefusedError, FileNotFoundError):
                with contextlib.suppress(OSError):
                    os.unlink(path)  # nobody listens there any more
            except OSError as exc:
                log.debug("wake-up to %s failed: %s", path, exc)
        return sent

    def listen(self, on_wake: Callable[[], None]) -> bool:
        """Bind this process's socket and call ``on_wake`` on the event loop for each burst."""
        if self.folder is None:
            return False
        path = str(self.folder / self.name)
        if len(path.encode()) > MAX_UNIX_PATH:
            log.warning("no cross-process wake-ups (polling only): socket path too long: %s",
                        path)
            return False
        receiver = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        try:
            receiver.bind(path)
        except OSError as exc:
            receiver.close()
            log.warning("no cross-process wake-ups (polling only): %s: %s", path, exc)
            return False
        receiver.setblocking(False)
        self._receiver = receiver
        self._loop = asyncio.get_running_loop()

        def readable() -> None:
            # Several pokes may be waiting: one check of the log answers them all.
            while True:
                try:
                    receiver.recv(16)
                except (BlockingIOError, InterruptedError):
                    break
                except OSError:
                    break
            on_wake()

        self._loop.add_reader(receiver.fileno(), readable)
        return True

    def close(self) -> None:
        if self._receiver is not None:
            if self._loop is not None and not self._loop.is_closed():
                self._loop.remove_reader(self._receiver.fileno())
            self._receiver.close()
            self._receiver = None
            if self.folder is not None:
                with contextlib.suppress(OSError):
                    os.unlink(self.folder / self.name)
        if self._sender is not None:
            self._sender.close()
            self._sender = None


__all__ = ["Waker", "wake_dir"]
