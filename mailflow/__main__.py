"""Entry point for ``python -m mailflow``."""

from mailflow.cli import main

raise SystemExit(main())
