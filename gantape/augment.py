"""DiffAugment: differentiable augmentation of the discriminator's inputs.

Zhao, Liu, Lin, Zhu and Han 2020, "Differentiable Augmentation for
Data-Efficient GAN Training" (NeurIPS). The discriminator sees T(x) and
T(G(z)), never x or G(z), for a random transformation T that is
differentiable in the image, so the generator's gradient passes through it:

  L_D = f_D(D(T(x)), D(T(G(z)))),   L_G = f_G(D(T(G(z)))),

with an independent T per image. Policies, combined as
"color,translation,cutout" and applied in the order written:

  color        brightness  x + (b - 1/2) / 2,                 b ~ U[0, 1)
               saturation  m_c + (x - m_c) * 2s,   m_c the pixel's channel
                                                   mean,      s ~ U[0, 1)
               contrast    m + (x - m) * (c + 1/2),  m the image's mean,
                                                              c ~ U[0, 1)
  translation  a shift by whole pixels (dy, dx), each uniform in
               [-H/8, H/8] x [-W/8, W/8] (floored); pixels shifted in are 0
  cutout       an (H/2) x (W/2) rectangle (floored) at a uniform centre,
               clipped to the image, set to 0

Range: gantape's images are in [0, 1], the paper's in [-1, 1]. Its
brightness shift U(-1/2, 1/2) is U(-1/4, 1/4) here; saturation and contrast
commute with the affine map between the ranges, so they are the paper's. The
fill 0 is black here (MNIST's background), where the paper's 0 is mid-grey.
With one channel, saturation is the identity.

Randomness: `sample_parameters(rng, B)` draws per-image U[0, 1) numbers from
an explicit `tf.random.Generator`; `augment(images, parameters, policy)` is a
pure function of them (XLA compiles it). So a variant draws them in
`sample_inputs`, beside its noise and outside the XLA cluster, and a
distributed step slices them per replica like any other input.
"""

from typing import Dict, Sequence, Tuple, Union

import tensorflow as tf

from gantape.errors import UsageError

POLICIES = ("color", "translation", "cutout")

# The paper's ratios: shifts up to 1/8 of a side, cutout of 1/2 of a side.
TRANSLATION_RATIO = (1, 8)
CUTOUT_RATIO = (1, 2)

# The U[0, 1) numbers `sample_parameters` draws for each image, in order.
PARAMETERS = ("brightness", "saturation", "contrast", "translation_y",
              "translation_x", "cutout_y", "cutout_x")

Parameters = Dict[str, tf.Tensor]


def parse_policy(policy: Union[str, Sequence[str]]) -> Tuple[str, ...]:
  """The policy's names, in order: "color,translation" -> ("color",
  "translation"); "" -> () (no augmentation).

  Raises:
    UsageError: an unknown or repeated name.
  """
  if isinstance(policy, str):
    policy = [p.strip() for p in policy.split(",")] if policy.strip() else []
  names = tuple(policy)
  for name in names:
    if name not in POLICIES:
      raise UsageError(
          f"unknown DiffAugment policy {name!r} in {','.join(names)!r}; use "
          f"a comma-separated list of {', '.join(POLICIES)} (e.g. "
          f"'color,translation,cutout'), or '' for none.")
    if names.count(name) > 1:
      raise UsageError(
          f"DiffAugment policy {name!r} appears more than once in "
          f"{','.join(names)!r}; name each of {', '.join(POLICIES)} at most "
          f"once.")
  return names


def sample_parameters(rng: tf.random.Generator, batch_size) -> Parameters:
  """The random numbers of one augmentation of a batch.

  All of `PARAMETERS` are drawn whatever the policy, in one call, so the
  structure is the same for every policy and a policy's draws do not depend
  on the others it is combined with.

  Args:
    rng: the generator to draw from (the step's, seeded).
    batch_size: B, an int or a scalar tensor.

  Returns:
    {name: [B] float32 in [0, 1)} for every name in `PARAMETERS`.
  """
  uniform = rng.uniform([batch_size, len(PARAMETERS)], 0.0, 1.0, tf.float32)
  return {name: uniform[:, i] for i, name in enumerate(PARAMETERS)}


def _uniform_int(u: tf.Tensor, low: int, count: int) -> tf.Tensor:
  """Integers uniform in [low, low + count) from u ~ U[0, 1)."""
  index = tf.cast(tf.floor(u * count), tf.int32)
  return low + tf.minimum(index, count - 1)


def _check_images(images: tf.Tensor) -> Tuple[int, int]:
  """H and W of [B, H, W, C] images, which must be known when traced."""
  if images.shape.rank != 4 or None in images.shape[1:3]:
    raise UsageError(
        f"DiffAugment takes images of shape [B, H, W, C] with H and W "
        f"known, got {images.shape}; reshape flat images to the image shape "
        f"before augmenting them.")
  return images.shape[1], images.shape[2]


def adjust_color(images: tf.Tensor, brightness: tf.Tensor,
                 saturation: tf.Tensor, contrast: tf.Tensor) -> tf.Tensor:
  """The "color" policy with given [B] numbers in [0, 1) (module docstring):
  brightness, then saturation, then contrast."""
  def per_image(u):
    return tf.reshape(tf.cast(u, images.dtype), [-1, 1, 1, 1])
  x = images + (per_image(brightness) - 0.5) * 0.5
  mean = tf.reduce_mean(x, axis=3, keepdims=True)
  x = (x - mean) * (per_image(saturation) * 2.0) + mean
  mean = tf.reduce_mean(x, axis=[1, 2, 3], keepdims=True)
  return (x - mean) * (per_image(contrast) + 0.5) + mean


def _shift_axis(images: tf.Tensor, shifts: tf.Tensor, axis: int) -> tf.Tensor:
  """out[b, .., i, ..] = images[b, .., i - shifts[b], ..] along `axis` (1 or
  2), 0 where i - shifts[b] is outside the image."""
  size = images.shape[axis]
  source = tf.range(size)[tf.newaxis, :] - shifts[:, tf.newaxis]
  moved = tf.gather(images, tf.clip_by_value(source, 0, size - 1),
                    axis=axis, batch_dims=1)
  inside = tf.cast((source >= 0) & (source < size), images.dtype)
  mask_shape = [-1, 1, 1, 1]
  mask_shape[axis] = size
  return moved * tf.reshape(inside, mask_shape)


def translate(images: tf.Tensor, shift_y: tf.Tensor,
              shift_x: tf.Tensor) -> tf.Tensor:
  """Moves each image's content down by shift_y[b] and right by shift_x[b]
  whole pixels ([B] int32, negative for up and left), filling with 0."""
  _check_images(images)
  return _shift_axis(_shift_axis(images, shift_y, 1), shift_x, 2)


def cutout_size(height: int, width: int) -> Tuple[int, int]:
  """The cutout rectangle's (h, w) for H x W images: the paper's H/2, W/2."""
  num, den = CUTOUT_RATIO
  return height * num // den, width * num // den


def cut_out(images: tf.Tensor, center_y: tf.Tensor,
            center_x: tf.Tensor) -> tf.Tensor:
  """Sets to 0 each image's `cutout_size` rectangle whose rows are
  [center_y - h // 2, center_y - h // 2 + h) and columns likewise, clipped to
  the image; `center_y`, `center_x` [B] int32."""
  height, width = _check_images(images)
  h, w = cutout_size(height, width)

  def inside(center, cut, size):  # [B, size]: in the hole along one axis
    start = (center - cut // 2)[:, tf.newaxis]
    index = tf.range(size)[tf.newaxis, :]
    return (index >= start) & (index < start + cut)
  hole = (inside(center_y, h, height)[:, :, tf.newaxis]
          & inside(center_x, w, width)[:, tf.newaxis, :])
  return images * (1.0 - tf.cast(hole, images.dtype))[..., tf.newaxis]


def translation_shifts(parameters: Parameters, height: int, width: int
                       ) -> Tuple[tf.Tensor, tf.Tensor]:
  """The [B] shifts (dy, dx) that "translation" applies for `parameters`:
  uniform integers in [-m, m], m = floor(side * 1/8)."""
  num, den = TRANSLATION_RATIO
  def shift(u, size):
    most = size * num // den
    return _uniform_int(u, -most, 2 * most + 1)
  return (shift(parameters["translation_y"], height),
          shift(parameters["translation_x"], width))


def cutout_centers(parameters: Parameters, height: int, width: int
                   ) -> Tuple[tf.Tensor, tf.Tensor]:
  """The [B] centres (y, x) that "cutout" uses for `parameters`: uniform in
  [0, side] for an even cutout side, [0, side - 1] for an odd one (the
  paper's range, which keeps part of the rectangle inside the image)."""
  h, w = cutout_size(height, width)
  return (_uniform_int(parameters["cutout_y"], 0, height + 1 - h % 2),
          _uniform_int(parameters["cutout_x"], 0, width + 1 - w % 2))


def augment(images: tf.Tensor, parameters: Parameters,
            policy: Union[str, Sequence[str]]) -> tf.Tensor:
  """DiffAugment's T(images) for `policy` (module docstring).

  Differentiable with respect to `images`; a pure function of its
  arguments, so it runs inside `tf.function(jit_compile=True)`.

  Args:
    images: [B, H, W, C] float images in [0, 1], any C, H and W static.
    parameters: `sample_parameters(rng, B)`; draw a fresh set for each batch
      the discriminator sees (real and fake separately).
    policy: "color,translation,cutout", any subset in any order, "" for
      none; or its parsed tuple (`parse_policy`).

  Returns:
    The augmented images, same shape and dtype; `images` itself for "".

  Raises:
    UsageError: an unknown policy, or images that are not [B, H, W, C].
  """
  names = parse_policy(policy)
  if not names:
    return images
  height, width = _check_images(images)
  for name in names:
    if name == "color":
      images = adjust_color(images, parameters["brightness"],
                            parameters["saturation"], parameters["contrast"])
    elif name == "translation":
      images = translate(images,
                         *translation_shifts(parameters, height, width))
    else:
      images = cut_out(images, *cutout_centers(parameters, height, width))
  return images
