"""FLOPs of one GAN iteration, counted from the step's traced graph.

Counts matmuls and convolutions (forward and backward, both networks, all
`n_critic` updates) that are actually executed, not element-wise ops: the
convention of peak-FLOP comparisons. A `tf.cond` (an `If` op, in the
forward pass and again in the gradient) runs one branch: each branch's FLOPs
count weighted by how often it runs. The one cond with matmuls in a gantape
step is lazy R1's (`Variant.real_probabilities`), whose true branch, the
penalty, runs on one discriminator update in `r1_every`.
"""

from typing import Any, List, Optional, Sequence

import numpy as np
import tensorflow as tf

from gantape import step as step_lib

_MATMULS = ("MatMul", "_FusedMatMul", "BatchMatMul", "BatchMatMulV2",
            "BatchMatMulV3")
_CONVS = ("Conv2D", "_FusedConv2D", "Conv2DBackpropInput",
          "Conv2DBackpropFilter")
_CONDS = ("If", "StatelessIf")


def op_flops(op: tf.Operation) -> int:
  """Multiply-add FLOPs (2 per MAC) of a matmul or 2-D convolution op.

  Returns:
    The op's FLOPs; 0 for any other op type.
  """
  if op.type in _MATMULS:
    a = op.inputs[0].shape.as_list()
    transposed = (op.get_attr("transpose_a") if op.type in _MATMULS[:2]
                  else op.get_attr("adj_x"))
    inner = a[-2] if transposed else a[-1]
    return 2 * int(np.prod(op.outputs[0].shape.as_list())) * int(inner)
  if op.type in _CONVS[:2]:
    kh, kw, cin, _ = op.inputs[1].shape.as_list()
    return 2 * int(np.prod(op.outputs[0].shape.as_list())) * kh * kw * cin
  if op.type == "Conv2DBackpropInput":
    kh, kw, cin, _ = op.inputs[1].shape.as_list()
    return 2 * int(np.prod(op.inputs[2].shape.as_list())) * kh * kw * cin
  if op.type == "Conv2DBackpropFilter":
    kh, kw, cin, _ = op.outputs[0].shape.as_list()
    return 2 * int(np.prod(op.inputs[2].shape.as_list())) * kh * kw * cin
  return 0


def live_ops(graph: tf.Graph,
             outputs: Optional[Sequence[tf.Tensor]] = None
             ) -> List[tf.Operation]:
  """Ops that feed an output or a side effect: what actually runs.

  A gradient function builds the gradient of every input of an op (say a
  convolution's filter gradient in the generator step, where only the input
  gradient is wanted); the unused ones are pruned before running.

  Args:
    graph: the graph.
    outputs: the outputs that are used; default: all of `graph.outputs`.
  """
  outputs = graph.outputs if outputs is None else outputs
  stack = [t.op for t in outputs] + list(graph.control_outputs)
  seen = {}
  while stack:
    op = stack.pop()
    if op.name in seen:
      continue
    seen[op.name] = op
    stack.extend(t.op for t in op.inputs)
    stack.extend(op.control_inputs)
  return list(seen.values())


def graph_flops(graph: tf.Graph, true_fraction: float,
                outputs: Optional[Sequence[tf.Tensor]] = None) -> float:
  """FLOPs of what `graph` runs to compute `outputs` (default: all); a
  cond's branches weighted by `true_fraction` (the true branch) and
  1 - `true_fraction`, each pruned to the cond's outputs that are used."""
  total = 0.0
  outputs = graph.outputs if outputs is None else outputs
  live = live_ops(graph, outputs)
  used = {t.ref() for op in live for t in op.inputs}
  used.update(t.ref() for t in outputs)
  for op in live:
    total += op_flops(op)
    if op.type in _CONDS:
      wanted = [i for i, t in enumerate(op.outputs) if t.ref() in used]
      for attr, weight in (("then_branch", true_fraction),
                           ("else_branch", 1.0 - true_fraction)):
        branch = graph._get_function(op.get_attr(attr).name).graph  # pylint: disable=protected-access
        total += weight * graph_flops(
            branch, true_fraction, [branch.outputs[i] for i in wanted])
  return total


def iteration_flops(step: step_lib.TrainStep, batch_spec: Any,
                    batch_size: int) -> int:
  """FLOPs of one GAN iteration of `step`, counted from its traced graph.

  Args:
    step: the step; its iteration is traced (`TrainStep.trace_iteration`),
      not run.
    batch_spec: the spec of one real batch (the dataset's `element_spec`).
    batch_size: examples per batch, for the random inputs' spec.

  Returns:
    The FLOPs of the matmuls and convolutions that one iteration runs, on
    average over `r1_every` iterations for lazy R1.
  """
  inputs = step.variant.sample_inputs(tf.random.Generator.from_seed(0),
                                      batch_size)
  inputs_spec = tf.nest.map_structure(
      lambda t: tf.TensorSpec(t.shape, t.dtype), inputs)
  graph = step.trace_iteration(batch_spec, inputs_spec).graph
  true_fraction = 1.0 / getattr(step.variant, "r1_every", 1)
  return int(round(graph_flops(graph, true_fraction)))
