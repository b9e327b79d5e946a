"""The flag table the CLI reads without TensorFlow matches its sources."""

from gantape.cli import flag_source


def test_flag_table_is_up_to_date():
  with open(flag_source.TABLE_FILE) as f:
    written = f.read()
  assert written == flag_source.text(), (
      "gantape/cli/flag_table.py is stale: run "
      "`python -m gantape.cli.flag_source` and commit it.")
