"""The networks' own random streams, as a checkpoint item.

A Keras layer that draws random numbers in training (`GaussianNoise`,
`Dropout`, `GaussianDropout`, `RandomFlip`, ...) draws them from a
`keras.random.SeedGenerator` it holds, whose position is its `state`
variable. Keras leaves that variable out of the layer's checkpoint, so a run
restored from one would draw its noise from the start again. `items` names
each generator's state as the checkpoint item `ITEM`, so that a resumed run
draws what an uninterrupted one would. A checkpoint without the item (written
by code that did not save it) restores all the same, with one warning line
(`warn_if_missing`).
"""

from typing import Any, Callable, Dict, List, Set

import keras

from gantape.variants import base

# The checkpoint item: {network: [state of each generator, in layer order]}.
ITEM = "seed_generators"
_NETWORKS = ("generator", "discriminator")


def of_model(model: keras.layers.Layer) -> List[keras.random.SeedGenerator]:
  """The `SeedGenerator`s of `model` and of its layers, nested ones too,
  each once, in Keras's order of the layers."""
  found, seen = [], set()
  # Keras tracks every SeedGenerator a layer holds in `_seed_generators`,
  # as it does its variables; `_flatten_layers` is the model and its layers.
  for layer in model._flatten_layers():  # pylint: disable=protected-access
    for generator in getattr(layer, "_seed_generators", ()):
      if id(generator) not in seen:
        seen.add(id(generator))
        found.append(generator)
  return found


def items(variant: base.Variant) -> Dict[str, Any]:
  """{ITEM: {network: [the state variables]}} for the variant's networks
  that hold a `SeedGenerator`; {} when none does, so that the checkpoints of
  networks without one keep their layout."""
  states = {}
  for network in _NETWORKS:
    generators = of_model(getattr(variant, network))
    if generators:
      states[network] = [generator.state for generator in generators]
  return {ITEM: states} if states else {}


def warn_if_missing(restoring: Dict[str, Any], has: Set[str], path: str,
                    log: Callable[[str], None]) -> None:
  """Warns in `log` when `restoring` holds `ITEM` and the checkpoint at `path`,
  whose items are `has`, does not: the restore leaves the generators where
  the run's seed put them (the caller drops `ITEM` from what it restores)."""
  if ITEM in restoring and ITEM not in has:
    log(f"warning: {path} holds no state of the networks' random generators "
        f"(their noise layers' Keras SeedGenerators); their noise restarts "
        f"from the run's seed, so it differs from an uninterrupted run's.")
