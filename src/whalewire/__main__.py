"""Allow ``python -m whalewire``."""

from whalewire.cli import main

raise SystemExit(main())
