# Makes specs/data/hw1_{train,test}.csv: 100 points each of y = sin(2x) + 0.3x, x uniform in [-3, 3].
"""Train targets get Gaussian noise (sd 0.1), test targets are noise-free.

Deterministic (random.seed(1)) and standard library only: `python3 tools/make_hw1_csv.py`.
"""

import math
import pathlib
import random

SEED = 1
POINTS_PER_FILE = 100
X_RANGE = (-3.0, 3.0)
TRAIN_NOISE_SD = 0.1
DATA_DIR = pathlib.Path(__file__).resolve().parent.parent / "specs" / "data"


def target(x):
    return math.sin(2.0 * x) + 0.3 * x


def make_points(noise_sd):
    points = []
    for _ in range(POINTS_PER_FILE):
        x = random.uniform(*X_RANGE)
        noise = random.gauss(0.0, noise_sd) if noise_sd > 0 else 0.0
        points.append((x, target(x) + noise))
    return points


def write_csv(path, points):
    lines = ["x,y"] + [f"{x:.6f},{y:.6f}" for x, y in points]
    path.write_text("\n".join(lines) + "\n")


def main():
    random.seed(SEED)
    DATA_DIR.mkdir(parents=True, exist_ok=True)
    write_csv(DATA_DIR / "hw1_train.csv", make_points(TRAIN_NOISE_SD))
    write_csv(DATA_DIR / "hw1_test.csv", make_points(0.0))


if __name__ == "__main__":
    main()
