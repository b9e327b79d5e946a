"""`gantape export` from a checkout: see gantape/cli/export.py or --help."""

from gantape.cli import export

if __name__ == "__main__":
  export.run()
