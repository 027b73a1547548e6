"""`python -m gateway.cli`: the `lgsp` command where no console script is installed."""

import sys

from gateway.cli import main

sys.exit(main())
