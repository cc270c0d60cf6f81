"""Batch-size study on MNIST-5k: validation accuracy per epoch for batch_size 1, 10, 100, 1500.

As in the learning-rate study, accuracy on a held-out 10% is recorded after every epoch and
nothing stops early; 1,500 images, and only ``batch_size`` changes (1,500 is more than the 1,350
training rows, so it means full-batch gradient descent). Small batches take many noisy steps per
epoch and learn the most per epoch; one sample per step is also by far the slowest per epoch.
The sklearn chapter uses 500 hidden units; this uses 100 and 30 epochs so that the 40,000
single-sample Adam steps fit the example's 3-minute budget. Writes outputs/mlp_batch_size.png.

Run: python examples/mlp_batch_size.py [--quick] [--outdir DIR]
"""
from _common import cli, sweep

BATCH_SIZES = [1, 10, 100, 1500]


def main(quick=False, outdir="outputs"):
    n_train, max_iter, hidden = (100, 1, (20,)) if quick else (1500, 30, (100,))
    return sweep("batch_size", BATCH_SIZES, n_train, max_iter, hidden, outdir,
                 "mlp_batch_size.png", quick)


if __name__ == "__main__":
    cli(__doc__, main)
