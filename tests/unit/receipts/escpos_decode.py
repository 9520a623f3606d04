"""Reads ESC/POS bytes back into the text a printer would put on paper (for tests).

Knows the commands posterm's printer driver sends; anything else raises, so an unexpected
command fails a test instead of being read as text.
"""

from __future__ import annotations

from dataclasses import dataclass, field

CODE_PAGES = {0: "cp437", 2: "cp850", 16: "cp1252", 19: "cp858"}


@dataclass
class Printout:
    lines: list[str] = field(default_factory=list)
    cuts: int = 0
    qr_codes: list[str] = field(default_factory=list)
    bold_lines: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        return "\n".join(self.lines)


class UnknownCommand(ValueError):
    pass


def decode(data: bytes) -> Printout:
    out = Printout()
    line = bytearray()
    codepage = "cp437"
    kanji = False
    bold = False
    line_bold = False
    i = 0

    def flush() -> None:
        nonlocal line, line_bold
        out.lines.append(line.decode("gb18030" if kanji_line else codepage))
        if line_bold:
            out.bold_lines.append(out.lines[-1])
        line = bytearray()
        line_bold = False

    kanji_line = False
    while i < len(data):
        b = data[i]
        if b == 0x1B:  # ESC
            cmd = data[i + 1]
            if cmd == 0x40:  # ESC @ init
                i += 2
            elif cmd in (0x61, 0x21, 0x2D, 0x4D, 0x47, 0x7B):  # a ! - M G {
                i += 3
            elif cmd == 0x45:  # ESC E n bold
                bold = data[i + 2] == 1
                i += 3
            elif cmd == 0x74:  # ESC t n code page
                codepage = CODE_PAGES[data[i + 2]]
                i += 3
            elif cmd == 0x64:  # ESC d n feed n lines
                for _ in range(data[i + 2]):
                    flush()
                i += 3
            else:
                raise UnknownCommand(f"ESC 0x{cmd:02x} at {i}")
        elif b == 0x1D:  # GS
            cmd = data[i + 1]
            if cmd == 0x21:  # GS ! n size
                i += 3
            elif cmd == 0x56:  # GS V m [n] cut
                m = data[i + 2]
                i += 4 if m in (65, 66) else 3
                out.cuts += 1
            elif cmd == 0x28 and data[i + 2] == 0x6B:  # GS ( k pL pH cn fn ...
                size = data[i + 3] + 256 * data[i + 4]
                body = data[i + 5 : i + 5 + size]
                if body[:2] == b"\x31\x50":  # store QR data
                    out.qr_codes.append(body[3:].decode("utf-8"))
                i += 5 + size
            else:
                raise UnknownCommand(f"GS 0x{cmd:02x} at {i}")
        elif b == 0x1C:  # FS
            cmd = data[i + 1]
            if cmd == 0x26:
                kanji = True
                kanji_line = True
            elif cmd == 0x2E:
                kanji = False
            else:
                raise UnknownCommand(f"FS 0x{cmd:02x} at {i}")
            i += 2
        elif b == 0x0A:
            flush()
            kanji_line = kanji
            i += 1
        elif b < 0x20:
            raise UnknownCommand(f"control byte 0x{b:02x} at {i}")
        else:
            line.append(b)
            line_bold = line_bold or bold
            i += 1
    if line:
        flush()
    return out
