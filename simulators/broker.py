"""A local Mosquitto broker for `posterm demo` and the benchmarks: its own process on a
loopback port, a password file and the ACL docs/fleet.md gives (each terminal, user = its
terminal id, reads and writes only under `{prefix}/+/{terminal id}/#`; the operator reads
everything and writes bundles and commands).

Mosquitto is a Debian package (`make setup` installs it); `mosquitto_installed()` says whether
it is there, so a caller can go on without a fleet.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import time
from collections.abc import Mapping
from pathlib import Path

OPERATOR = "operator"


def _tool(name: str) -> str | None:
    return shutil.which(name) or next(
        (str(p) for p in (Path("/usr/sbin") / name, Path("/usr/bin") / name) if p.exists()), None
    )


def mosquitto_installed() -> bool:
    return _tool("mosquitto") is not None and _tool("mosquitto_passwd") is not None


def acl_text(prefix: str, operator: str = OPERATOR) -> str:
    """The ACL of docs/fleet.md: a terminal (user = its id) only under its own topics; the
    operator reads everything and writes bundles and commands."""
    return (
        f"user {operator}\n"
        f"topic read {prefix}/#\n"
        f"topic write {prefix}/+/+/config/set\n"
        f"topic write {prefix}/+/+/command\n"
        "\n"
        f"pattern readwrite {prefix}/+/%u/#\n"
    )


class BrokerError(Exception):
    """The broker could not be started; the message says why."""


class LocalBroker:
    """One mosquitto process listening on 127.0.0.1:`port`, state in `folder`."""

    def __init__(
        self,
        folder: Path,
        port: int,
        users: Mapping[str, str],
        *,
        prefix: str = "posterm",
        persistence: bool = False,
    ) -> None:
        self.folder = folder
        self.port = port
        self.prefix = prefix
        self.process: subprocess.Popen[bytes] | None = None
        folder.mkdir(parents=True, exist_ok=True)
        self.passwords = folder / "passwd"
        self.acl = folder / "acl"
        self.conf = folder / "mosquitto.conf"
        self.log = folder / "mosquitto.log"
        self._write_passwords(users)
        self.acl.write_text(acl_text(prefix), encoding="utf-8")
        self.conf.write_text(
            f"listener {port} 127.0.0.1\n"
            "allow_anonymous false\n"
            f"password_file {self.passwords}\n"
            f"acl_file {self.acl}\n"
            f"persistence {'true' if persistence else 'false'}\n"
            f"persistence_location {folder}/\n"
            "max_queued_messages 10000\n"
            # started by root (a container), mosquitto would switch to the user `mosquitto`,
            # which may not read this folder
            + ("user root\n" if os.geteuid() == 0 else "")
            + f"log_dest file {self.log}\n"
            "log_type error\nlog_type warning\n",
            encoding="utf-8",
        )

    @property
    def url(self) -> str:
        return f"mqtt://127.0.0.1:{self.port}"

    def _write_passwords(self, users: Mapping[str, str]) -> None:
        """All users at once: a plain `user:password` file hashed in place (`-U`), one
        process however many terminals."""
        tool = _tool("mosquitto_passwd")
        if tool is None:
            raise BrokerError("mosquitto_passwd is not installed (apt-get install mosquitto)")
        fd = os.open(self.passwords, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.writelines(f"{name}:{password}\n" for name, password in users.items())
        done = subprocess.run([tool, "-U", str(self.passwords)], capture_output=True, text=True)
        if done.returncode != 0:
            raise BrokerError(f"mosquitto_passwd failed: {done.stderr.strip()}")

    def start(self, timeout_s: float = 10.0) -> None:
        tool = _tool("mosquitto")
        if tool is None:
            raise BrokerError("mosquitto is not installed (apt-get install mosquitto)")
        with self.log.open("ab") as log:
            self.process = subprocess.Popen(
                [tool, "-c", str(self.conf)],
                stdout=subprocess.DEVNULL,
                stderr=log,
                start_new_session=True,  # a Ctrl-C in the demo's screen is not the broker's
            )
        deadline = time.monotonic() + timeout_s
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                raise BrokerError(
                    f"mosquitto exited at start: {self.log.read_text(errors='replace')[-500:]}"
                )
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                return
            except OSError:
                time.sleep(0.05)
        self.stop()
        raise BrokerError(f"mosquitto did not listen on 127.0.0.1:{self.port} in {timeout_s} s")

    def stop(self) -> None:
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
