"""`python -m papers` is the `papers` command."""
import sys

from papers.harness.cli import main

sys.exit(main())
