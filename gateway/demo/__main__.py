"""`python -m gateway.demo [run|stop] [options]` (what `make demo` runs)."""

import sys

from gateway.demo.main import main

sys.exit(main())
