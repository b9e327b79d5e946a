"""A training run resolved once: `resolve` turns a `TrainConfig` into a `Run`.

Everything that decides what a run is happens here, in one pass and before
anything is built or written: the variant class is looked up, the preset
fills the settings left unset, a resumed run keeps its recorded values of
the settings the caller did not give (`resume.keep_recorded`), the data
decides the image shape, classes and networks, and the result is validated
and checked against what the workdir recorded. The builder
(`gantape.build`) and the loop (`training.loop`) read the `Run` and never
look a setting up again.
"""

import dataclasses
from typing import Any, Collection, Dict, List, Optional, Tuple, Type

from gantape import data as data_lib
from gantape import variants
from gantape.errors import UsageError
from gantape.training import resume as resume_lib
from gantape.training import run_data
from gantape.training.config import TrainConfig
from gantape.variants import base


@dataclasses.dataclass(frozen=True)
class Run:
  """What a run is, resolved.

  Attributes:
    config: the settings, validated, with every preset field set, the run's
      recorded values kept where the caller gave none, and the networks the
      data needs in `variant_options`.
    variant_class: the `Variant` subclass `config.variant` names.
    shape: the data's image shape and classes.
    total_iterations: the iteration the run trains to.
    lr_decay: (start, end) iterations of the learning rate's linear decay;
      None: constant.
    data: what run.json and the checkpoints record of the data: its shape
      and identity (`resume.data_identity`).
    recorded: what the workdir (or `resume_from`) recorded before this run.
    kept: the settings kept from the recorded run ({name: value}).
    changes: the settings that changed from the recorded run, as
      "name old -> new".
    data_changed: the data is not the recorded run's (allowed).
  """
  config: TrainConfig
  variant_class: Type[base.Variant]
  shape: run_data.DataShape
  total_iterations: int
  lr_decay: Optional[Tuple[int, int]]
  data: Dict[str, Any] = dataclasses.field(default_factory=dict)
  recorded: Optional[resume_lib.Recorded] = None
  kept: Dict[str, Any] = dataclasses.field(default_factory=dict)
  changes: List[str] = dataclasses.field(default_factory=list)
  data_changed: bool = False

  @classmethod
  def for_shape(cls, config: TrainConfig, shape: run_data.DataShape,
                variant_class: Optional[Type[base.Variant]] = None) -> "Run":
    """The run `config` describes on data of `shape`, with no workdir: what
    the benchmark and the step API build.

    Raises:
      UsageError: a bad setting.
    """
    variant_class = variant_class or variants.get_class(config.variant)
    config = settings(config, shape, variant_class)[0]
    total = total_iterations(config, variant_class)
    return cls(config, variant_class, shape, total, lr_decay(config, total))

  @property
  def record(self) -> Dict[str, Any]:
    """What each checkpoint records of the run (`resume.record`)."""
    return resume_lib.record(self.config, self.data)


def settings(config: TrainConfig, shape: run_data.DataShape,
             variant_class: Optional[Type[base.Variant]] = None,
             given: Optional[Collection[str]] = None,
             recorded_run: Optional[Dict[str, Any]] = None,
             variant_name: Optional[str] = None
             ) -> Tuple[TrainConfig, Dict[str, Any], List[str]]:
  """`config` with the preset, the kept settings and the networks applied.

  Args:
    config: the settings as given.
    shape: the data's.
    variant_class: the class `config.variant` names; None looks it up.
    given: the settings the caller chose, which no recorded value
      replaces; None: none.
    recorded_run: the workdir's run.json, whose values of the settings that
      may change and are not `given` are kept; None: keep nothing.
    variant_name: the name `variant_class` was registered by
      (`variants.register`), when it is a class the caller passed.

  Returns:
    (the config, the settings kept, the changes from the recorded run).

  Raises:
    UsageError: a bad setting (a kept one too).
  """
  cls = variant_class or variants.get_class(config.variant)
  config.validate(cls)
  preset_name = preset_of(config, cls, recorded_run)
  preset = cls.preset(preset_name)
  values = {f.name: getattr(preset, f.name) for f in dataclasses.fields(preset)
            if f.name != "variant_options"
            and getattr(config, f.name) is None}
  values["preset"] = preset_name
  values["variant_options"] = {**preset.variant_options,
                               **config.variant_options}
  if variant_name is not None:
    values["variant"] = variant_name
  kept, changes = resume_lib.keep_recorded(
      {**dataclasses.asdict(config), **values}, recorded_run,
      given if given is not None else ())
  networks = run_data.networks_for(cls, values["variant_options"],
                                   shape)
  if networks is not None:
    values["variant_options"] = {**values["variant_options"],
                                 "networks": networks}
  config = dataclasses.replace(config, **values, **kept)
  config.validate(cls)
  return config, kept, changes


def preset_of(config: TrainConfig, variant_class: Type[base.Variant],
              recorded_run: Optional[Dict[str, Any]] = None) -> str:
  """The preset `config` names; unnamed, the recorded run's, else the
  default for its dataset (`variants.settings.default_preset`)."""
  if config.preset is not None:
    return config.preset
  if recorded_run is not None and recorded_run.get("preset"):
    return recorded_run["preset"]
  return variants.settings.default_preset(variant_class.presets,
                                          config.dataset)


def resolve(config: TrainConfig, dataset: data_lib.Dataset, *,
            variant_class: Optional[Type[base.Variant]] = None,
            given: Collection[str] = (),
            allow_data_change: bool = False,
            variant_name: Optional[str] = None) -> Run:
  """The run `config` describes on `dataset`, checked against its workdir.

  Reads the workdir's records; writes nothing.

  Args:
    config: the settings as given.
    dataset: the training data.
    variant_class: the class `config.variant` names, when the caller holds
      it (a class passed to `train`); None looks it up.
    given: the settings the caller chose (`train`'s `given`).
    allow_data_change: accept training data other than the run's.
    variant_name: the name `variant_class` was registered by, when the
      caller passed a class (`variants.register`).

  Raises:
    UsageError: a bad setting, data the variant cannot take, a setting that
      the recorded run fixes, or other data without `allow_data_change`.
  """
  if not config.workdir:
    raise UsageError("workdir must be set, e.g. --workdir=/tmp/gantape/dcgan.")
  cls = variant_class or variants.get_class(config.variant)
  shape = run_data.DataShape.of(dataset)
  run_data.check_fits(cls, config, shape, dataset.name)
  recorded = resume_lib.read(config)
  config, kept, changes = settings(config, shape, cls, given, recorded.run,
                                   variant_name)
  resume_lib.check(config, recorded, cls)
  data = {**shape.record(), **resume_lib.data_identity(dataset)}
  data_changed = resume_lib.check_data(data, recorded, allow_data_change)
  data_lib.check_training_set(dataset, config.batch_size)
  total = total_iterations(config, cls)
  return Run(config, cls, shape, total, lr_decay(config, total), data,
             recorded, kept, changes, data_changed)


def total_iterations(config: TrainConfig,
                     variant_class: Optional[Type[base.Variant]] = None
                     ) -> int:
  """`config.steps`, or the variant's seed default when unset."""
  if config.steps is not None:
    return config.steps
  return (variant_class or variants.get_class(config.variant)
          ).default_iterations


def lr_decay(config: TrainConfig, total: int) -> Optional[Tuple[int, int]]:
  """(start, end) of the learning rate's linear decay over a run of `total`
  iterations; None: constant."""
  if config.lr_decay_start is None:
    return None
  end = config.lr_decay_end if config.lr_decay_end is not None else total
  return config.lr_decay_start, end
