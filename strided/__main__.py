"""``python -m strided`` is the ``strided`` command."""

import sys

from .cli import main

sys.exit(main())
