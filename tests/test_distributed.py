"""Grid searches spread over a dask.distributed cluster (joblib's dask backend) give the same
result as the serial search: the estimators pickle to worker processes and train the same model,
bit for bit, from the same seed. Skipped when the `distributed` extra is not installed."""
import numpy as np
import pytest
from numpy.testing import assert_array_equal
from sklearn.model_selection import GridSearchCV

from tinygrad_nn.data import load_digits
from tinygrad_nn.models import CNNClassifier, MLPClassifier

distributed = pytest.importorskip("dask.distributed", reason="needs the 'distributed' extra")
joblib = pytest.importorskip("joblib")


@pytest.fixture(scope="module")
def client():
    cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                       dashboard_address=None)
    client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.fixture(scope="module")
def digits():
    X, y = load_digits()
    return X[:240], y[:240]


SEARCHES = [
    (MLPClassifier(hidden_layer_sizes=(16,), max_iter=20, random_state=0),
     {"alpha": [1e-4, 1e-1], "learning_rate_init": [1e-3, 1e-2]}),
    (CNNClassifier(conv_channels=(3,), hidden_layer_sizes=(8,), max_iter=2, random_state=0),
     {"learning_rate_init": [1e-3, 1e-2], "batch_size": [16, 64]}),
]


@pytest.mark.filterwarnings("ignore::sklearn.exceptions.ConvergenceWarning")
@pytest.mark.parametrize("estimator, grid", SEARCHES, ids=["MLPClassifier", "CNNClassifier"])
def test_grid_search_on_local_cluster_equals_serial(client, digits, estimator, grid):
    X, y = digits
    assert len(client.scheduler_info()["workers"]) == 2
    serial = GridSearchCV(estimator, grid, cv=3, n_jobs=1).fit(X, y)
    with distributed.get_task_stream(client) as tasks:
        with joblib.parallel_config(backend="dask"):
            spread = GridSearchCV(estimator, grid, cv=3, n_jobs=-1).fit(X, y)
    # the fits ran on the cluster's worker processes, not in this one
    assert tasks.data and {t["worker"] for t in tasks.data} <= set(client.scheduler_info()["workers"])
    for key in [f"split{i}_test_score" for i in range(3)] + ["mean_test_score", "rank_test_score"]:
        assert_array_equal(spread.cv_results_[key], serial.cv_results_[key], err_msg=key)
    assert spread.best_params_ == serial.best_params_
    assert_array_equal(spread.predict_proba(X), serial.predict_proba(X))
