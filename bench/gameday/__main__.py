"""`python -m bench.gameday`: see bench/gameday/runner.py."""

import sys

from bench.gameday.runner import main

sys.exit(main())
