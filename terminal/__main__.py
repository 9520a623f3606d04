"""`python -m terminal` is the `posterm` command."""

import sys

from terminal.cli import main

sys.exit(main())
