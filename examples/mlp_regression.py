"""MLPRegressor beside scikit-learn's: diabetes progression and body-mass index, held-out R^2.

Two regression problems, each fitted twice in the same run with the same arguments: once by
tinygrad_nn's `MLPRegressor`, once by scikit-learn's. Inputs and target are standardised
(a StandardScaler in a Pipeline for the inputs, `TransformedTargetRegressor` for the target), so
the squared loss and the `alpha` penalty work on unit scales.

1. scikit-learn's diabetes data (442 patients, 10 measurements -> disease progression a year
   later): small and noisy, so a small tanh network, L-BFGS and a strong penalty (alpha=10).
2. The from-scratch notebook's toy problem, BMI from height (m) and weight (kg). The notebook
   only lists five people, so we draw 1,000 of them (seeded): heights around 1.72 m, BMIs
   log-normal around 24, weights rounded to whole kilograms and heights to centimetres as in the
   notebook's table; the target is weight / height^2 of the rounded measurements. Adam, two
   hidden layers of 32.

A ridge regression on the same split shows what a linear model gets. Prints R^2 and RMSE on the
held-out quarter of each problem and draws predicted against true values
(outputs/mlp_regression.png).

Run: python examples/mlp_regression.py [--quick] [--outdir DIR]
"""
import time

import numpy as np
from matplotlib.figure import Figure
from sklearn.compose import TransformedTargetRegressor
from sklearn.datasets import load_diabetes
from sklearn.linear_model import RidgeCV
from sklearn.metrics import mean_squared_error, r2_score
from sklearn.model_selection import train_test_split
from sklearn.neural_network import MLPRegressor as SklearnMLPRegressor
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler

from tinygrad_nn.models import MLPRegressor
from _common import cli, output_dir, savefig


def bmi_people(n=1000, seed=0):
    """n synthetic people: X = (height in m, weight in kg), y = BMI = weight / height^2."""
    rng = np.random.default_rng(seed)
    height = rng.normal(1.72, 0.09, n).clip(1.45, 2.05)
    weight = 24.0 * np.exp(rng.normal(0.0, 0.15, n)) * height ** 2
    height, weight = height.round(2), weight.round(0)
    return np.column_stack([height, weight]), weight / height ** 2


def problems(quick):
    """name -> (X, y, MLP arguments shared by both implementations, target unit)."""
    max_iter = 30 if quick else 2000
    X_diabetes, y_diabetes = load_diabetes(return_X_y=True)
    X_bmi, y_bmi = bmi_people(300 if quick else 1000)
    return {
        "diabetes": (X_diabetes, y_diabetes,
                     dict(hidden_layer_sizes=(16,), activation="tanh", solver="lbfgs", alpha=10.0,
                          max_iter=max_iter, random_state=0),
                     "score"),
        "BMI": (X_bmi, y_bmi,
                dict(hidden_layer_sizes=(32, 32), learning_rate_init=0.01, max_iter=max_iter,
                     random_state=0),
                "kg/m^2"),
    }


def scaled(regressor):
    """Standardise inputs (Pipeline) and target (fitted on the training split only)."""
    return TransformedTargetRegressor(make_pipeline(StandardScaler(), regressor),
                                      transformer=StandardScaler())


def main(quick=False, outdir="outputs"):
    out = output_dir(outdir)
    rows, predictions = [], {}
    for problem, (X, y, mlp_args, unit) in problems(quick).items():
        X_train, X_test, y_train, y_test = train_test_split(X, y, test_size=0.25, random_state=0)
        contenders = {"tinygrad_nn MLPRegressor": scaled(MLPRegressor(**mlp_args)),
                      "sklearn MLPRegressor": scaled(SklearnMLPRegressor(**mlp_args)),
                      "ridge (linear reference)": scaled(RidgeCV())}
        print(f"{problem}: {len(X_train)} training / {len(X_test)} test samples; MLP arguments "
              f"{mlp_args}")
        for model_name, model in contenders.items():
            t0 = time.perf_counter()
            model.fit(X_train, y_train)
            seconds = time.perf_counter() - t0
            pred = model.predict(X_test)
            predictions[problem, model_name] = (y_test, pred)
            rows.append(dict(problem=problem, model=model_name, r2=r2_score(y_test, pred),
                             rmse=mean_squared_error(y_test, pred) ** 0.5, unit=unit,
                             epochs=getattr(model.regressor_[-1], "n_iter_", None),
                             seconds=seconds))

    print(f"\n{'problem':<9} {'model':<25} {'test R^2':>9} {'test RMSE':>10} {'':<11} "
          f"{'iters':>6} {'fit (s)':>8}")
    for r in rows:
        epochs = "" if r["epochs"] is None else r["epochs"]
        print(f"{r['problem']:<9} {r['model']:<25} {r['r2']:>9.4f} {r['rmse']:>10.3f} "
              f"{r['unit']:<11} {epochs:>6} {r['seconds']:>8.2f}")

    path = out / "mlp_regression.png"
    plot_predictions(predictions, rows, path, quick)
    print(f"\npredicted vs true: {path}")
    return rows


def plot_predictions(predictions, rows, path, quick=False):
    """One panel per problem: test predictions of both MLPs (and the ridge) against the truth."""
    scores = {(r["problem"], r["model"]): r for r in rows}
    names = list(dict.fromkeys(problem for problem, _ in predictions))
    fig = Figure(figsize=(6 * len(names), 5.2))
    for ax, problem in zip(fig.subplots(1, len(names), squeeze=False)[0], names):
        styles = (("ridge (linear reference)", dict(marker="+", s=22, alpha=0.6, color="0.55")),
                  ("tinygrad_nn MLPRegressor", dict(marker="o", s=26, alpha=0.45, color="C0")),
                  ("sklearn MLPRegressor", dict(marker="x", s=18, alpha=0.8, color="C3")))
        for model_name, style in styles:
            y_true, y_pred = predictions[problem, model_name]
            r = scores[problem, model_name]
            ax.scatter(y_true, y_pred, **style,
                       label=f"{model_name}: R^2 {r['r2']:.4f}, RMSE {r['rmse']:.3g}")
        lo, hi = y_true.min(), y_true.max()
        ax.plot([lo, hi], [lo, hi], color="0.3", lw=1, ls="--", label="perfect prediction")
        ax.set(title=f"{problem}: held-out predictions", xlabel="true", ylabel="predicted")
        ax.grid(alpha=0.3)
        ax.legend(loc="upper left", fontsize=8)
    fig.tight_layout()
    savefig(fig, path, quick, dpi=120)


if __name__ == "__main__":
    cli(__doc__, main)
