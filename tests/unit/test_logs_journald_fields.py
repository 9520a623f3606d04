"""Log records reach journald as native-protocol fields a technician can filter on
(`journalctl -u posterm TXN_ID=...`), with card numbers masked. A datagram socket stands in
for /run/systemd/journal/socket and the datagrams are parsed as journald parses them."""

from __future__ import annotations

import logging
import socket
from collections.abc import Iterator
from pathlib import Path

import pytest

from terminal import logs


def parse_native(datagram: bytes) -> dict[str, str]:
    """journald's native protocol: KEY=VALUE lines, or KEY\\n<u64 le length><data>\\n."""
    fields: dict[str, str] = {}
    rest = datagram
    while rest:
        line_end = rest.index(b"\n")
        head = rest[:line_end]
        if b"=" in head:
            key, _, value = head.partition(b"=")
            fields[key.decode()] = value.decode()
            rest = rest[line_end + 1 :]
        else:
            size = int.from_bytes(rest[line_end + 1 : line_end + 9], "little")
            start = line_end + 9
            fields[head.decode()] = rest[start : start + size].decode()
            assert rest[start + size : start + size + 1] == b"\n"
            rest = rest[start + size + 1 :]
    return fields


@pytest.fixture
def journal(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[socket.socket]:
    path = tmp_path / "journal.socket"
    sock = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
    sock.bind(str(path))
    sock.settimeout(2)
    monkeypatch.setattr(logs, "_JOURNAL_SOCKET", str(path))
    handler = logs.configure_logging("INFO", "journald", journal_fields={"terminal_id": "CAFE0001"})
    yield sock
    logging.getLogger().removeHandler(handler)
    handler.close()
    sock.close()


def test_sale_fields_become_journald_fields(journal: socket.socket) -> None:
    logging.getLogger("terminal.payment").info(
        "sale approved", extra={"txn_id": "5b0c4a1e", "result": "approved", "amount": "12.34 EUR"}
    )
    fields = parse_native(journal.recv(65536))
    assert fields["MESSAGE"] == "sale approved"
    assert fields["TERMINAL_ID"] == "CAFE0001"
    assert fields["TXN_ID"] == "5b0c4a1e" and fields["RESULT"] == "approved"
    assert fields["PRIORITY"] == "6" and fields["SYSLOG_IDENTIFIER"] == "posterm"
    assert fields["LOGGER"] == "terminal.payment"


def test_card_numbers_are_masked_in_message_and_fields(journal: socket.socket) -> None:
    logging.getLogger("terminal.nfc").warning(
        "card 4111 1111 1111 1111 declined", extra={"card": "5555555555554444"}
    )
    raw = journal.recv(65536)
    assert b"4111 1111 1111 1111" not in raw and b"5555555555554444" not in raw
    fields = parse_native(raw)
    assert fields["PRIORITY"] == "4"
    assert fields["CARD"].endswith("4444")


def test_multi_line_messages_use_the_length_prefixed_form(journal: socket.socket) -> None:
    try:
        raise ValueError("journal full")
    except ValueError:
        logging.getLogger("terminal.payment").exception("cannot write journal")
    fields = parse_native(journal.recv(65536))
    assert fields["MESSAGE"].startswith("cannot write journal")
    assert "ValueError: journal full" in fields["MESSAGE"]
    assert fields["PRIORITY"] == "3"


def test_field_names_follow_journald_rules() -> None:
    assert logs._field_name("txn_id") == "TXN_ID"
    assert logs._field_name("_private") == "PRIVATE"
    assert logs._field_name("3ds-result") == "DS_RESULT"
    assert logs._field_name("x" * 80) == "X" * 64
