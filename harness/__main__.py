"""`python -m harness` runs the `shopper` command line."""

from harness.cli import main

raise SystemExit(main())
