"""``python -m lazyrich``: the same command-line interface as the ``lazyrich`` console script."""

from lazyrich._cli import main

raise SystemExit(main())
