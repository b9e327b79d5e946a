"""curves: loss_curves.png's legends stand off the curves."""

import matplotlib.pyplot as plt

from gantape.training import curves


def test_legends_do_not_cover_the_curves():
  records = [{"step": s, "d_loss": 1.0 + s, "g_loss": 2.0 - s,
              "d_real": 0.5, "r1_penalty": 0.1 * s} for s in range(1, 11)]
  fig = curves.figure(records, title="dcgan")
  try:
    fig.canvas.draw()
    for ax in fig.axes:
      legend = ax.get_legend().get_window_extent()
      assert legend.x0 >= ax.get_window_extent().x1  # right of the panel
      assert legend.x1 <= fig.bbox.x1  # and inside the figure
  finally:
    plt.close(fig)
  assert curves.figure([{"step": 1}]) is None
