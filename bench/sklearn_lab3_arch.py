"""lab3's architecture grid (specs/lab3_fashion_mlp.nnspec, sweep `arch`) with scikit-learn.

GridSearchCV(MLPClassifier(...), cv=KFold(5), n_jobs=JOBS, refit=False) over the hidden
layers (10), (25), (50), (25, 10), (50, 25, 10), on the 10,000 training images nnspec's
`fmnist.train.shuffle().take(10000)` selects (the same samples in the same order:
study_data.py reproduces nnspec's shuffle), as float32 scaled by 1/255.

The same as the spec, as far as the two libraries allow:
  solver='sgd', learning_rate_init=0.1 (constant), momentum=0.9, nesterovs_momentum=True,
  batch_size=200, alpha=1e-4 (sklearn adds alpha / (2 * batch) * sum W^2 to each batch's
  loss, which is the spec's `l2 1e-4 / (2 * batch_size)`), max_iter=250 (or --epochs),
  tol=1e-4 with n_iter_no_change=10 on the epoch's mean training loss (the spec's
  `stop when no_improvement(train.loss, tol: 1e-4, patience: 10)`), shuffle every epoch.
Differences that remain:
  - folds: plain KFold(5) without shuffling, as the spec's `cv 5` (nnspec's folds follow
    sklearn's KFold exactly); the notebook's cv=5 meant StratifiedKFold for a classifier;
  - refit=False: the spec's sweep refits nothing; GridSearchCV's default refits the best
    point on all 10,000 images, a 26th fit;
  - nnspec also evaluates each fold's training accuracy and its validation fold after
    every epoch (its learning curves); scikit-learn scores the held-out fold once;
  - initialization: both Glorot uniform, but sklearn draws the biases from the same range
    where nnspec starts them at zero; the random streams differ (random_state=2052409);
  - dtype: float32 on both sides (the notebook's X / 255.0 was float64, slower).
Prints one line: `sklearn seconds=<fit> best=50 best_cv_accuracy=<float> scores=50:<mean>...`
(scores in the grid's order).
Usage: python3 sklearn_lab3_arch.py [--epochs N] [--jobs N] [--train N]
"""
import argparse
import time
import warnings

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.neural_network import MLPClassifier

import study_data

SEED = 2052409  # the spec's `seed`, the notebook's ID
ARCHITECTURES = [(10,), (25,), (50,), (25, 10), (50, 25, 10)]


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--epochs", type=int, default=250)
    parser.add_argument("--jobs", type=int, default=2)
    parser.add_argument("--train", type=int, default=10000)
    args = parser.parse_args()
    x, y = study_data.fashion_mnist("train")
    x, y = study_data.shuffle_take(x, y, SEED, args.train)
    mlp = MLPClassifier(solver="sgd", learning_rate="constant", learning_rate_init=0.1, momentum=0.9,
                        nesterovs_momentum=True, batch_size=200, alpha=1e-4, max_iter=args.epochs, tol=1e-4,
                        n_iter_no_change=10, early_stopping=False, shuffle=True, random_state=SEED)
    search = GridSearchCV(mlp, {"hidden_layer_sizes": ARCHITECTURES}, cv=KFold(5), n_jobs=args.jobs, refit=False)
    start = time.perf_counter()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        search.fit(x, y)
    seconds = time.perf_counter() - start
    best = search.best_params_["hidden_layer_sizes"]
    scores = " ".join(f"{','.join(map(str, point['hidden_layer_sizes']))}:{score:.4f}"
                      for point, score in zip(search.cv_results_["params"], search.cv_results_["mean_test_score"]))
    print(f"sklearn seconds={seconds:.2f} best={','.join(map(str, best))} best_cv_accuracy={search.best_score_:.4f} "
          f"scores={scores}")


if __name__ == "__main__":
    main()
