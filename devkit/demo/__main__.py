"""`python -m devkit.demo [run|stop] [options]` (what `make demo` runs)."""

import sys

from devkit.demo.main import main

sys.exit(main())
