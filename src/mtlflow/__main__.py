"""``python -m mtlflow``: the same as the ``mtlflow`` command."""

import sys

from mtlflow.cli import main

sys.exit(main())
