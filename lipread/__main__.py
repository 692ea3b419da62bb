"""``python -m lipread``: the same as the ``lipread`` command."""

import sys

from .cli.app import main

sys.exit(main())
