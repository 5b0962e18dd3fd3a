"""``python -m bench.judge``: see :mod:`bench.judge.run`."""

import sys

from bench.judge.run import main

sys.exit(main())
