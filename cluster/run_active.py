"""Run (or resume) an active-learning run on the Ray cluster this machine belongs to.

Used by ``ray submit cluster/cluster.yaml cluster/run_active.py -- --config '~/activeamp-run.yaml'`` and by
``ray job submit ... -- python cluster/run_active.py --config cluster/run.yaml``. It joins the running
cluster (``address="auto"``) and takes the same options as ``activeamp run``.
"""

from __future__ import annotations

import os
import sys

from activeamp.cli import main

if __name__ == "__main__":
    argv = [os.path.expanduser(a) for a in sys.argv[1:]]
    if "--address" not in argv and "--resume" not in argv:
        argv = ["--address", "auto", *argv]
    sys.exit(main(["run", *argv]))
