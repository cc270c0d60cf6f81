"""Hand-set convolutions as features vs a learned CNN, on MNIST-5k.

The chapter this reproduces feeds an MLP with the features of three fixed kernels (sharpen,
vertical edges, horizontal edges), each max-pooled over 4x4 blocks and joined by a FeatureUnion,
and scores it on Fashion-MNIST (79% micro-F1; 85.6% after a grid search). Offline we run the
5,000-digit MNIST sample instead (4,000 training / 1,000 test images, stratified), so the
figures are not comparable with the chapter's. Three models:

1. the chapter's pipeline: `make_convolution_union` ->
   MLPClassifier(hidden_layer_sizes=(500, 300));
2. the same MLP on the raw pixels;
3. CNNClassifier with its defaults, which learns its kernels (two Conv2D -> ReLU -> MaxPool2D
   blocks, 16 and 32 channels, then 128 hidden units; 12 epochs of Adam).

Prints a table of micro-F1 scores and training times, and draws each kernel's effect on a few
test images (outputs/conv_features_kernels.png).

Run: python examples/conv_features.py [--quick] [--outdir DIR]
"""
import time
import warnings

import numpy as np
from matplotlib.figure import Figure
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import f1_score
from sklearn.pipeline import Pipeline

from tinygrad_nn.models import (CNNClassifier, ConvolutionTransformer, MLPClassifier,
                                make_convolution_union)
from _common import cli, mnist_split, output_dir, savefig

KERNELS = ["sharpen", "v_edge", "h_edge"]


def models(quick):
    """The three contenders, fresh; --quick shrinks them to a smoke test."""
    hidden, epochs = ((50, 30), 30) if quick else ((500, 300), 200)
    mlp = dict(hidden_layer_sizes=hidden, max_iter=epochs, random_state=0)
    return {
        "conv features + MLP": Pipeline([
            ("convolutions", make_convolution_union(KERNELS, max_pool=True, max_pool_size=(4, 4))),
            ("mlp", MLPClassifier(**mlp)),
        ]),
        "raw pixels + MLP": MLPClassifier(**mlp),
        "CNNClassifier": CNNClassifier(random_state=0, **({"max_iter": 2} if quick else {})),
    }


def plot_kernels(X_fit, samples, path, quick=False):
    """One row per sample image: the image, then for each kernel its convolution (grey levels
    stretched per image) and the 4x4 max-pooled features the MLP gets (the transformers are
    fitted on the training images, so their min-max scaling is per pixel, over that set)."""
    columns = [("image", lambda x: x)]
    for name in KERNELS:
        conv = ConvolutionTransformer(name).fit(X_fit)
        pooled = ConvolutionTransformer(name, max_pool=True, max_pool_size=(4, 4)).fit(X_fit)
        # undo the per-pixel scaling to show the plain convolution
        columns += [(name, lambda x, t=conv: (t.transform(x) - t.conv_offset_) / t.conv_scale_),
                    (f"{name}: features", lambda x, t=pooled: t.transform(x).clip(0, 1))]
    fig = Figure(figsize=(1.6 * len(columns), 1.7 * len(samples)))
    axes = fig.subplots(len(samples), len(columns), squeeze=False)
    for row, image in enumerate(samples):
        for col, (title, effect) in enumerate(columns):
            out = effect(image[None])
            side = int(np.sqrt(out.size))
            ax = axes[row, col]
            ax.imshow(out.reshape(side, side), cmap="gray")
            ax.set_xticks([])
            ax.set_yticks([])
            if row == 0:
                ax.set_title(title, fontsize=8)
    fig.tight_layout()
    savefig(fig, path, quick, dpi=110)


def main(quick=False, outdir="outputs"):
    out = output_dir(outdir)
    (X_train, y_train), (X_test, y_test) = mnist_split(*((600, 200) if quick else ()),
                                                       random_state=123)
    print(f"MNIST-5k: {len(X_train)} training and {len(X_test)} test images "
          "(the chapter used Fashion-MNIST: 79% micro-F1 with its convolution features)")

    results = {}
    for name, model in models(quick).items():
        t0 = time.perf_counter()
        with warnings.catch_warnings():
            if quick:  # a few epochs cannot converge
                warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X_train, y_train)
        seconds = time.perf_counter() - t0
        f1 = f1_score(y_test, model.predict(X_test), average="micro")
        results[name] = dict(micro_f1=f1, seconds=seconds)

    print(f"\n{'model':<22} {'micro-F1':>9} {'fit (s)':>8}")
    for name, r in results.items():
        print(f"{name:<22} {r['micro_f1']:>9.2%} {r['seconds']:>8.1f}")

    path = out / "conv_features_kernels.png"
    plot_kernels(X_train, X_test[:4], path, quick)
    print(f"\nkernel effects: {path}")
    return results


if __name__ == "__main__":
    cli(__doc__, main)
