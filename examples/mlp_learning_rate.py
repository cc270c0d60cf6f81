"""Learning-rate study on MNIST-5k: validation accuracy per epoch for learning_rate_init 1 ... 1e-4.

An MLPClassifier with one hidden layer of 500 units is trained on 1,000 images with each
initial learning rate. ``early_stopping=True`` makes it hold out 10% of them and record the
accuracy there after every epoch (``validation_scores_``); ``n_iter_no_change=max_iter`` keeps
it from actually stopping early, so every run gets the full 120 epochs. Too large a rate (1)
overshoots and never settles; too small a one (1e-4) is still climbing at the end.
Writes outputs/mlp_learning_rate.png.

Run: python examples/mlp_learning_rate.py [--quick] [--outdir DIR]
"""
from _common import cli, sweep

LEARNING_RATES = [1, 0.1, 0.01, 0.001, 0.0001]


def main(quick=False, outdir="outputs"):
    n_train, max_iter, hidden = (200, 2, (20,)) if quick else (1000, 120, (500,))
    return sweep("learning_rate_init", LEARNING_RATES, n_train, max_iter, hidden, outdir,
                 "mlp_learning_rate.png", quick)


if __name__ == "__main__":
    cli(__doc__, main)
