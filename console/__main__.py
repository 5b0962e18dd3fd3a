"""``python -m console`` is the ``shipdeck`` command."""

from console.cli import main

raise SystemExit(main())
