"""Which digits get confused: a confusion matrix and the misclassified test images, MNIST-5k.

An MLPClassifier (one hidden layer of 100 ReLU units, Adam, early stopping on a 10% validation
split) is trained on 4,000 images and tested on 1,000. Left: the confusion matrix (rows: true
digit, columns: predicted). Right: the first 25 misclassified test images with their true and
predicted labels, as in seed 05's analysis of failed cases. Writes
outputs/mlp_confusion_matrix.png.

Run: python examples/mlp_confusion_matrix.py [--quick] [--outdir DIR]
"""
import time

import numpy as np
from matplotlib.figure import Figure
from sklearn.metrics import ConfusionMatrixDisplay, confusion_matrix

from tinygrad_nn.models import MLPClassifier
from _common import cli, mnist_split, output_dir, savefig


def main(quick=False, outdir="outputs"):
    n_train, max_iter = (500, 3) if quick else (None, 200)
    out = output_dir(outdir)
    (X_train, y_train), (X_test, y_test) = mnist_split(n_train)

    t0 = time.perf_counter()
    clf = MLPClassifier(hidden_layer_sizes=(100,), early_stopping=True, max_iter=max_iter,
                        random_state=0)
    clf.fit(X_train, y_train)
    y_pred = clf.predict(X_test)
    cm = confusion_matrix(y_test, y_pred, labels=clf.classes_)
    wrong = np.flatnonzero(y_pred != y_test)
    results = dict(test_accuracy=float(np.mean(y_pred == y_test)), epochs=clf.n_iter_,
                   misclassified=len(wrong), seconds=time.perf_counter() - t0)
    off = cm - np.diag(np.diag(cm))
    i, j = np.unravel_index(np.argmax(off), off.shape)
    true, pred = clf.classes_[i], clf.classes_[j]
    results["most_confused"] = dict(true=true, predicted=pred, count=int(off[i, j]))
    print(f"test accuracy {results['test_accuracy']:.2%} after {clf.n_iter_} epochs; "
          f"{len(wrong)} of {len(y_test)} wrong; most often {true} taken for {pred} "
          f"({off[i, j]} times) ({results['seconds']:.1f} s)")

    fig = Figure(figsize=(14, 6.5))
    left, right = fig.subfigures(1, 2, width_ratios=[1, 1])
    ConfusionMatrixDisplay(cm, display_labels=clf.classes_).plot(
        ax=left.subplots(), colorbar=False, cmap="Blues")
    left.suptitle(f"MLPClassifier (100,): test accuracy {results['test_accuracy']:.1%}")
    for ax, i in zip(right.subplots(5, 5).ravel(), wrong[:25]):
        ax.imshow(X_test[i].reshape(28, 28), cmap="Greys", interpolation="nearest")
        ax.set_title(f"true {y_test[i]}, pred {y_pred[i]}", fontsize=8)
    for ax in right.axes:
        ax.set_xticks(())
        ax.set_yticks(())
    right.suptitle("misclassified test images")
    savefig(fig, out / "mlp_confusion_matrix.png", quick, dpi=120)
    return results


if __name__ == "__main__":
    cli(__doc__, main)
