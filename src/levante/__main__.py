"""`python -m levante` is the `levante` command."""

import sys

from levante.cli import main

sys.exit(main())
