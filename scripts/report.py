"""`gantape report` from a checkout: see gantape/cli/report.py or --help."""

from gantape.cli import report

if __name__ == "__main__":
  report.run()
