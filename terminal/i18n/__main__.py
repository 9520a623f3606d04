"""`python -m terminal.i18n`: compile every catalog's .po into the .mo beside it (packaging)."""

from __future__ import annotations

import sys

from terminal.i18n import LOCALE_DIR
from terminal.i18n.catalog import mo_bytes, parse_po
from terminal.i18n.errors import I18nError


def main() -> int:
    status = 0
    for po in sorted(LOCALE_DIR.glob("*/LC_MESSAGES/*.po")):
        try:
            data = mo_bytes(parse_po(po.read_text(encoding="utf-8"), str(po)))
        except I18nError as error:
            print(f"i18n: {error.sentence}", file=sys.stderr)
            status = 2
            continue
        po.with_suffix(".mo").write_bytes(data)
        print(f"compiled {po.with_suffix('.mo')}")
    return status


if __name__ == "__main__":
    sys.exit(main())
