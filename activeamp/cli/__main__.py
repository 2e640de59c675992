"""``python -m activeamp.cli``: the ``activeamp`` command."""

import sys

from activeamp.cli import main

sys.exit(main())
