"""Optuna's per-trial cost of a shared RDB storage, for bench/run_workers.sh.

A study on the same PostgreSQL runs TRIALS trials whose objective does no work: it
suggests two parameters and reports EPOCHS intermediate values with a pruning check,
as a training loop would. The wall time per trial is then all storage (Optuna's
RDBStorage over SQLAlchemy and psycopg2, Debian's packages).

Usage: optuna_storage.py URL TRIALS EPOCHS
"""
import sys
import time

import optuna

url, trials, epochs = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
optuna.logging.set_verbosity(optuna.logging.WARNING)
storage = optuna.storages.RDBStorage(url.replace("postgresql://", "postgresql+psycopg2://", 1),
                                     heartbeat_interval=60, grace_period=120)
study = optuna.create_study(study_name="bench", storage=storage, direction="maximize",
                            sampler=optuna.samplers.GridSampler({"hidden": [32, 64, 128, 96],
                                                                 "lr": [1e-3, 2e-3, 5e-3, 1e-2]}),
                            pruner=optuna.pruners.MedianPruner())


def objective(trial):
    trial.suggest_categorical("hidden", [32, 64, 128, 96])
    trial.suggest_categorical("lr", [1e-3, 2e-3, 5e-3, 1e-2])
    value = 0.0
    for epoch in range(epochs):
        value = 0.5 + 0.01 * epoch
        trial.report(value, epoch)
        if trial.should_prune():
            raise optuna.TrialPruned()
    return value


start = time.perf_counter()
study.optimize(objective, n_trials=trials)
seconds = time.perf_counter() - start
print(f"optuna_ms_per_trial={1000 * seconds / trials:.2f} trials={trials} optuna={optuna.__version__}")
