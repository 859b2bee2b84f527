"""hw1's regression study (specs/hw1_optuna.nnspec, sweep `curve_study`) with Optuna + PyTorch.

The spec's study, written the way hw1's own scripts do it: a TPE search (Optuna's
TPESampler(seed=1), its defaults otherwise, as nnspec's tpe) of --trials points over
  n_layers int(1, 3); units_1..units_n int(128, 256), one per hidden layer;
  batch_size int(4, 50); n_epochs int(100, 1000); lr float(1e-4, 1e-2, log);
  weight_decay float(1e-7, 0.1, log); momentum float(0, 0.9);
  optimizer in {Adam(lr, weight_decay), SGD(lr, momentum, weight_decay),
                RMSprop(lr, momentum, weight_decay)}   (momentum drawn for all three, as in the spec)
a ReLU MLP 1 -> units... -> 1 with MSE loss, each point trained on the 5 folds of the 100
training points (KFold(5) without shuffling, as the spec's `cv 5`), the validation MSE
computed after every epoch, the objective the mean over the folds of the last epoch's
validation MSE (minimized). MedianPruner(n_startup_trials=5, n_warmup_steps=10) watches
the first fold's epochs (steps numbered from 1 like nnspec's epochs); a pruned first fold
ends the point, as in nnspec. Then, as the spec's `refit ensemble mean`: the mean of the
best point's 5 fold models on the 100 test points, and the best point refit on all 100
training points and scored on them.
Differences from nnspec: PyTorch's default initialization (Kaiming uniform with a = sqrt(5),
biases uniform) where nnspec uses Glorot uniform kernels and zero biases; the random
streams (shuffles, TPE's draws) are PyTorch's and numpy's; with --jobs 2 Optuna runs two
trials at once in threads of one process (study.optimize(n_jobs=2), the GIL shared),
while nnspec's --jobs 2 runs two trials (possibly two folds of one point) at once.
Prints one line: `optuna seconds=<float> best_value=<float> complete=<n> pruned=<n> epochs=<n> ...`
(epochs: trained in all, folds and the refit).
Usage: python3 optuna_hw1_curve.py [--trials N] [--jobs N]
"""
import argparse
import os
import threading
import time

import numpy as np
import optuna
import torch

import study_data

torch.set_num_threads(1)
try:  # pin OpenBLAS/MKL to one thread as well, when threadpoolctl is there
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
except ImportError:
    pass

SPEC_DATA = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "specs", "data")


def build_model(units):
    layers, width = [], 1
    for unit in units:
        layers += [torch.nn.Linear(width, unit), torch.nn.ReLU()]
        width = unit
    layers.append(torch.nn.Linear(width, 1))
    return torch.nn.Sequential(*layers)


def make_optimizer(params, model):
    name, lr, decay, momentum = params["optimizer"], params["lr"], params["weight_decay"], params["momentum"]
    if name == "adam":
        return torch.optim.Adam(model.parameters(), lr=lr, weight_decay=decay)
    if name == "sgd":
        return torch.optim.SGD(model.parameters(), lr=lr, momentum=momentum, weight_decay=decay)
    return torch.optim.RMSprop(model.parameters(), lr=lr, momentum=momentum, weight_decay=decay)


class EpochCount:
    """Epochs trained in all, over every thread."""

    def __init__(self):
        self.lock = threading.Lock()
        self.value = 0

    def add(self):
        with self.lock:
            self.value += 1


EPOCHS = EpochCount()


def train(params, x, y, val_x, val_y, seed, report=None):
    """Trains one model; returns it and the last epoch's validation MSE. `report(epoch,
    value)` is called after every epoch and may raise optuna.TrialPruned."""
    torch.manual_seed(seed)
    model = build_model(params["units"])
    optimizer = make_optimizer(params, model)
    loss_fn = torch.nn.MSELoss()
    batch = params["batch_size"]
    val_loss = float("nan")
    for epoch in range(1, params["n_epochs"] + 1):
        model.train()
        order = torch.randperm(x.shape[0])
        for begin in range(0, x.shape[0], batch):
            index = order[begin:begin + batch]
            optimizer.zero_grad(set_to_none=True)
            loss = loss_fn(model(x[index]), y[index])
            loss.backward()
            optimizer.step()
        model.eval()
        with torch.no_grad():
            val_loss = loss_fn(model(val_x), val_y).item()
        EPOCHS.add()
        if report is not None:
            report(epoch, val_loss)
    return model, val_loss


def suggest(trial):
    n_layers = trial.suggest_int("n_layers", 1, 3)
    units = [trial.suggest_int(f"units_{k + 1}", 128, 256) for k in range(n_layers)]
    return {
        "units": units,
        "batch_size": trial.suggest_int("batch_size", 4, 50),
        "n_epochs": trial.suggest_int("n_epochs", 100, 1000),
        "lr": trial.suggest_float("lr", 1e-4, 1e-2, log=True),
        "weight_decay": trial.suggest_float("weight_decay", 1e-7, 0.1, log=True),
        "momentum": trial.suggest_float("momentum", 0.0, 0.9),
        "optimizer": trial.suggest_categorical("optimizer", ["adam", "sgd", "rmsprop"]),
    }


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--trials", type=int, default=100)
    parser.add_argument("--jobs", type=int, default=1)
    args = parser.parse_args()
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    train_x, train_y = (torch.from_numpy(a) for a in study_data.read_csv(os.path.join(SPEC_DATA, "hw1_train.csv"),
                                                                          ["x"], "y"))
    test_x, test_y = (torch.from_numpy(a) for a in study_data.read_csv(os.path.join(SPEC_DATA, "hw1_test.csv"),
                                                                        ["x"], "y"))
    folds = list(study_data.kfold(train_x.shape[0], 5))
    test_predictions = {}  # trial number -> the fold models' predictions on the test points

    def objective(trial):
        params = suggest(trial)
        losses, predictions = [], []
        for fold, (fit, held) in enumerate(folds):
            report = None
            if fold == 0:
                def report(epoch, value):
                    trial.report(value, epoch)
                    if trial.should_prune():
                        raise optuna.TrialPruned()
            model, loss = train(params, train_x[fit], train_y[fit], train_x[held], train_y[held],
                                seed=trial.number * 10 + fold, report=report)
            losses.append(loss)
            with torch.no_grad():
                predictions.append(model(test_x))
        test_predictions[trial.number] = predictions
        return float(np.mean(losses))

    study = optuna.create_study(direction="minimize", sampler=optuna.samplers.TPESampler(seed=1),
                                pruner=optuna.pruners.MedianPruner(n_startup_trials=5, n_warmup_steps=10))
    start = time.perf_counter()
    study.optimize(objective, n_trials=args.trials, n_jobs=args.jobs)
    study_seconds = time.perf_counter() - start
    best = study.best_trial
    mse = torch.nn.MSELoss()
    with torch.no_grad():
        ensemble = mse(torch.stack(test_predictions[best.number]).mean(dim=0), test_y).item()
    params = suggest(optuna.trial.FixedTrial(best.params))
    refit, _ = train(params, train_x, train_y, test_x, test_y, seed=12345)
    with torch.no_grad():
        refit_test = mse(refit(test_x), test_y).item()
    seconds = time.perf_counter() - start
    states = [t.state for t in study.trials]
    pruned = sum(state == optuna.trial.TrialState.PRUNED for state in states)
    complete = sum(state == optuna.trial.TrialState.COMPLETE for state in states)
    point = " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}" for k, v in best.params.items())
    print(f"optuna seconds={seconds:.2f} study_seconds={study_seconds:.2f} best_value={best.value:.4f} "
          f"complete={complete} pruned={pruned} epochs={EPOCHS.value} ensemble_test_mse={ensemble:.4f} refit_test_mse={refit_test:.4f} "
          f"best=#{best.number} {point}")


if __name__ == "__main__":
    main()
