"""Epochs of scikit-learn's MLPClassifier on the 60k Fashion-MNIST images, one thread.

MLPClassifier(hidden_layer_sizes=HIDDEN, batch_size=BATCH) with its defaults otherwise:
solver='adam', learning_rate_init=1e-3 (betas 0.9 and 0.999, epsilon 1e-8), alpha=1e-4,
ReLU, shuffle=True; the images as float32 scaled by 1/255 (sklearn then keeps float32).
bench/specs/mlp_784_50_10.nnspec is the same model for nnspec.

One epoch is one partial_fit(X, y) call: it shuffles, assembles the batches, runs
forward, backward and the Adam update over the whole set once, and keeps the optimizer's
state between calls (fit with warm_start would start Adam afresh every call). Input
validation is kept out of the figure as far as possible: sklearn.set_config(
assume_finite=True) skips the scan for NaN and infinity, X is float32 and C-contiguous
(no copy), and what partial_fit still does before training (the dtype and shape checks
and binarizing the 60k labels) is timed apart, by calling the method partial_fit calls
for it (MLPClassifier._validate_input), and subtracted from every epoch.

Prints one line: `sklearn samples_per_s=<float> seconds=<float> raw_seconds=<float>
validate_s=<float> loss=<float> epochs=<int> sklearn=<version> pools=<BLAS:threads>`:
seconds is the median epoch without the validation, raw_seconds with it, loss the last
epoch's mean training loss.
Usage: python3 sklearn_mlp_epoch.py [--hidden 50] [--batch 50] [--epochs 3] [--seed 0]
"""
import argparse
import os
import statistics
import sys
import time

import numpy as np

for variable in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")
import sklearn  # noqa: E402
from sklearn.neural_network import MLPClassifier  # noqa: E402
from threadpoolctl import threadpool_info, threadpool_limits  # noqa: E402

THREADS = threadpool_limits(1)  # every BLAS and OpenMP pool loaded so far: one thread

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import study_data  # noqa: E402


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--hidden", default="50", help="hidden layer widths, comma-separated (default 50)")
    parser.add_argument("--batch", type=int, default=50)
    parser.add_argument("--epochs", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    if args.batch < 1 or args.epochs < 1:
        sys.exit("error: --batch and --epochs need positive whole numbers (e.g. --batch 50 --epochs 3)")
    hidden = tuple(int(width) for width in args.hidden.split(","))
    x, y = study_data.fashion_mnist("train")
    x = np.ascontiguousarray(x, dtype=np.float32)
    classes = np.unique(y)
    sklearn.set_config(assume_finite=True)
    model = MLPClassifier(hidden_layer_sizes=hidden, batch_size=args.batch, solver="adam", learning_rate_init=1e-3,
                          alpha=1e-4, shuffle=True, random_state=args.seed)
    raw = []
    for _ in range(args.epochs):
        start = time.perf_counter()
        model.partial_fit(x, y, classes=classes)
        raw.append(time.perf_counter() - start)
    validate = []
    for _ in range(3):
        start = time.perf_counter()
        model._validate_input(x, y, incremental=True, reset=False)
        validate.append(time.perf_counter() - start)
    validate_s = statistics.median(validate)
    seconds = statistics.median(raw) - validate_s
    pools = ",".join(f"{pool['internal_api']}:{pool['num_threads']}" for pool in threadpool_info())
    print(f"sklearn samples_per_s={x.shape[0] / seconds:.1f} seconds={seconds:.3f} raw_seconds={statistics.median(raw):.3f} "
          f"validate_s={validate_s:.4f} loss={model.loss_:.4f} epochs={args.epochs} sklearn={sklearn.__version__} "
          f"pools={pools}")


if __name__ == "__main__":
    main()
