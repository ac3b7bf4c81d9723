"""`python -m station.cli`: the `station` command."""

import sys

from station.cli.main import main

sys.exit(main())
