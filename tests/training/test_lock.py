"""The files a run locks and appends to are never written through a link.

A shared folder (the old default workdir was under /tmp) lets another user
plant `.lock` or `metrics.jsonl` as a symbolic link to a file of the
victim's; `gantape train` must refuse it in one line, before writing, and
leave the link's target untouched. An immutable `metrics.jsonl` is refused
the same way.
"""

import os
import subprocess

import pytest

from gantape import files
from gantape.errors import UsageError
from gantape.training import curves
from gantape.training import lock as lock_lib
from tests.training.test_faults import (assert_kept, config, run_command,
                                        snapshot, trained, workdir)  # pylint: disable=unused-import


@pytest.mark.parametrize("name", [lock_lib.LOCK_FILE, curves.METRICS_FILE])
def test_a_link_planted_as_lock_or_metrics_is_refused(workdir, fake_mnist,
                                                      capsys, tmp_path, name):
  victim = tmp_path / "victim.txt"
  victim.write_text("the victim's own text\n")
  path = workdir / name
  rows = snapshot(workdir)[1]
  if path.exists():
    os.rename(path, tmp_path / "metrics.kept")
  os.symlink(victim, path)
  code, lines, err = run_command(config(workdir, steps=6), fake_mnist, capsys)
  assert code == 2 and lines == []
  assert err == [
      f"error: {path} is a symbolic link, and gantape never writes through "
      f"one; move the link away (or replace it by the file itself) and rerun."]
  assert victim.read_text() == "the victim's own text\n"
  assert os.path.islink(path)
  if name == curves.METRICS_FILE:
    assert (tmp_path / "metrics.kept").read_text().splitlines() == rows


def test_an_immutable_metrics_file_is_refused_before_training(
    workdir, fake_mnist, capsys):
  before = snapshot(workdir)
  path = workdir / curves.METRICS_FILE
  if os.geteuid() == 0:
    made = subprocess.run(["chattr", "+i", str(path)], capture_output=True,
                          check=False)
    if made.returncode:
      pytest.skip(f"chattr +i is unavailable here ({made.stderr.strip()})")
    reason = "Operation not permitted"
  else:
    os.chmod(path, 0o444)
    reason = "Permission denied"
  try:
    code, _, err = run_command(config(workdir, steps=6), fake_mnist, capsys)
  finally:
    subprocess.run(["chattr", "-i", str(path)], capture_output=True,
                   check=False)
    os.chmod(path, 0o644)
  assert code == 2
  assert err == [
      f"error: cannot write {path} ({reason}); make it writable for this "
      f"user (`lsattr` shows an immutable file) and rerun."]
  assert_kept(before, workdir)
  assert not (workdir / lock_lib.LOCK_FILE).exists()


def test_atomic_writes_replace_a_link_never_its_target(tmp_path):
  victim = tmp_path / "victim.txt"
  victim.write_text("kept")
  target = tmp_path / "run.json"
  os.symlink(victim, target)
  os.symlink(victim, files.temporary_name(str(target)))  # planted
  files.write_text(str(target), "{}\n")
  assert victim.read_text() == "kept"
  assert not os.path.islink(target) and target.read_text() == "{}\n"
  link = tmp_path / "link"
  os.symlink(victim, link)
  with pytest.raises(UsageError, match="never writes through one"):
    files.append_text(str(link), "row\n")
  assert victim.read_text() == "kept"
