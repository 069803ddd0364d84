"""`python -m index`: the index CLI (`citebot-index`)."""

import sys

from index.cli import main

sys.exit(main())
