"""`gantape train`: trains a variant, or resumes its workdir.

    gantape train --variant=dcgan --workdir=/tmp/gantape/dcgan

Rerunning the same command (or `--flagfile=WORKDIR/flags.txt`) resumes from
the workdir's latest checkpoint; `--resume_from=OTHER/checkpoints/ckpt-N`
starts a new workdir from another run's checkpoint. Ctrl-C or SIGTERM saves a
checkpoint first. `--variant=package.module:MyGAN` trains a `Variant` subclass
of your own (its package on PYTHONPATH; docs/variants.md).
Exit codes: 0 done, 1 NaN/Inf loss, 2 bad flags or data, 128 + signal number
when stopped by a signal.

Several GPUs: --strategy=mirrored. Several machines: --strategy=multiworker
on every machine, each with its TF_CONFIG. TPU: --strategy=tpu --tpu=NAME.
--batch_size stays the global batch.
"""

import os
import sys

from absl import flags

from gantape.cli import common
from gantape.cli import config_flags

FLAGS = flags.FLAGS


class _VariantParser(flags.EnumParser):
  """A registered variant's name, or "package.module:ClassName" (a
  `Variant` subclass of your own, imported when the config is built)."""

  def parse(self, argument):
    if ":" in argument:
      return argument
    return super().parse(argument)


def _define_variant_flag() -> None:
  field = config_flags.config_fields()["variant"]
  names = field["choices"]
  flags.DEFINE(_VariantParser(names), "variant", field["default"],
               f"<{'|'.join(names)}|package.module:ClassName>: "
               f"{field['help']}",
               serializer=flags.ArgumentSerializer())


config_flags.define_config_flags(exclude=("variant",))
_define_variant_flag()
config_flags.define_variant_option_flags()
flags.DEFINE_enum("strategy", "default",
                  config_flags.CONSTANTS["strategies"],
                  "tf.distribute strategy: default (one device), mirrored "
                  "(all local GPUs), multiworker (TF_CONFIG cluster), tpu.")
flags.DEFINE_string("tpu", None, "--strategy=tpu: TPU name or "
                    "grpc://host:port; 'local' on a TPU VM.")
flags.DEFINE_bool("allow_data_change", False, "Resume (or start from "
                  "--resume_from) on training data other than the run's; "
                  "its data order starts over. For this command only.")
flags.DEFINE_bool("summary", False, "Print Keras's summary of both networks "
                  "(layers, shapes, parameters) before training; the start "
                  "line always gives their parameter counts.")


def _config():
  """The run's `TrainConfig`, from the flags."""
  from gantape import train as train_lib  # pylint: disable=g-import-not-at-top
  values = config_flags.config_values(exclude=("variant",))
  values["variant"] = FLAGS.variant
  # In the user's home, not the shared /tmp, where another user could
  # create the folder first or plant links in it.
  values.setdefault("workdir", os.path.join(
      os.path.expanduser("~"), "gantape-runs", values["variant"]))
  return train_lib.TrainConfig(
      variant_options=config_flags.variant_options(values["variant"]),
      **values)


def main(argv):
  """Trains per the flags; returns the exit code."""
  del argv

  def train():
    # pylint: disable=g-import-not-at-top
    from gantape import distribute
    from gantape import train as train_lib
    from gantape.training import signals
    signals.exit_process_on_second_signal()  # the command owns its process
    config = _config()
    flags_text = common.flagfile_text(
        sys.modules[__name__], workdir=config.workdir,
        **({"data_path": config.data_path} if config.data_path else {}),
        **({"resume_from": config.resume_from} if config.resume_from else {}),
        allow_data_change=False, summary=False)
    # On resume, a setting whose flag is not given keeps the run's value.
    given = [name for name in config_flags.config_fields()
             if FLAGS[name].present]
    # First TensorFlow work of the process: multi-worker and TPU need that.
    strategy = distribute.make_strategy(FLAGS.strategy, tpu=FLAGS.tpu)
    return train_lib.train(config, strategy=strategy, flags_text=flags_text,
                           given=given,
                           allow_data_change=FLAGS.allow_data_change,
                           summary=FLAGS.summary)
  return common.run(train)


def run(argv=None) -> None:
  """Parses `argv` (default `sys.argv`) and trains; exits the process."""
  common.app_run(main, argv)
