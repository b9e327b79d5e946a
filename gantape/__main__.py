"""`python -m gantape <command>`: the same as the `gantape` command."""

import sys

from gantape import cli

if __name__ == "__main__":
  sys.exit(cli.main())
