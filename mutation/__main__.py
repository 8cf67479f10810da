"""Entry point: ``python -m mutation`` (see ``mutation.cli``)."""

from mutation.cli import main

raise SystemExit(main())
