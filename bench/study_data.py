"""The reference studies' data as nnspec selects it, for the peer tools of bench/run_study_*.sh.

nnspec's `shuffle()` is a Fisher-Yates shuffle driven by its own generator (xoshiro256**
seeded through SplitMix64, runtime/pipeline/random.cpp and selection.cpp); this file
reproduces it bit for bit, so the peer tool trains on the very samples nnspec selects.
`python3 study_data.py check` prints reference values to compare with nnspec's own tests.
Nothing here imports torch or scikit-learn.
"""
import gzip
import os
import struct
import sys

import numpy as np

FASHION_DIR = os.environ.get("NNSPEC_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
MASK = (1 << 64) - 1
GOLDEN_GAMMA = 0x9E3779B97F4A7C15


def mix_bits(value):
    value = ((value ^ (value >> 30)) * 0xBF58476D1CE4E5B9) & MASK
    value = ((value ^ (value >> 27)) * 0x94D049BB133111EB) & MASK
    return value ^ (value >> 31)


class Rng:
    """nnspec::rt::Rng: xoshiro256**, its four state words SplitMix64's first outputs."""

    def __init__(self, seed):
        seeder = seed & MASK
        self.state = []
        for _ in range(4):
            seeder = (seeder + GOLDEN_GAMMA) & MASK
            self.state.append(mix_bits(seeder))

    def next_u64(self):
        s = self.state
        result = (_rotl((s[1] * 5) & MASK, 7) * 9) & MASK
        shifted = (s[1] << 17) & MASK
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= shifted
        s[3] = _rotl(s[3], 45)
        return result

    def uniform_below(self, bound):
        threshold = ((1 << 64) - bound) % bound
        while True:
            value = self.next_u64()
            if value >= threshold:
                return value % bound


def _rotl(value, bits):
    return ((value << bits) | (value >> (64 - bits))) & MASK


def shuffled_positions(count, seed):
    """Positions 0..count-1 after nnspec's shuffleIndices(indices, seed)."""
    indices = list(range(count))
    rng = Rng(seed)
    for last in range(count, 1, -1):
        pick = rng.uniform_below(last)
        indices[last - 1], indices[pick] = indices[pick], indices[last - 1]
    return np.array(indices, dtype=np.int64)


def read_idx(path):
    with gzip.open(path, "rb") as stream:
        data = stream.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows * cols)
    return np.frombuffer(data, dtype=np.uint8, offset=8)


def fashion_mnist(part="train", dtype=np.float32):
    """Images scaled by 1/255 (as `| scale(1/255)`), one row each, and the labels."""
    prefix = "train" if part == "train" else "t10k"
    images = read_idx(os.path.join(FASHION_DIR, f"{prefix}-images-idx3-ubyte.gz"))
    labels = read_idx(os.path.join(FASHION_DIR, f"{prefix}-labels-idx1-ubyte.gz"))
    return (images.astype(np.float32) / np.float32(255)).astype(dtype), labels.astype(np.int64)


def shuffle_take(x, y, seed, n):
    """`part.shuffle().take(n)` with the experiment's seed."""
    order = shuffled_positions(x.shape[0], seed)[:n]
    return x[order], y[order]


def kfold(count, folds):
    """nnspec's `cv k` (sklearn's KFold(k), no shuffle): (fit, held_out) position arrays."""
    sizes = [count // folds + (1 if fold < count % folds else 0) for fold in range(folds)]
    begin = 0
    for size in sizes:
        held = np.arange(begin, begin + size)
        fit = np.concatenate([np.arange(0, begin), np.arange(begin + size, count)])
        yield fit, held
        begin += size


def read_csv(path, features, target):
    with open(path) as stream:
        header = stream.readline().strip().split(",")
    table = np.loadtxt(path, delimiter=",", skiprows=1, dtype=np.float64, ndmin=2)
    columns = [header.index(name) for name in features]
    return table[:, columns].astype(np.float32), table[:, [header.index(target)]].astype(np.float32)


def main():
    """Checks this generator against nnspec's goldens (tests/pipeline/random_test.cpp and
    selection_test.cpp); exits 1 on a difference."""
    if sys.argv[1:] != ["check"]:
        sys.exit("usage: study_data.py check")
    rng, ints = Rng(42), Rng(7)
    got = {
        "Rng(42) first four": [rng.next_u64() for _ in range(4)],
        "Rng(7) uniformInt(0, 9)": [ints.uniform_below(10) for _ in range(8)],
        "shuffleIndices(0..9, 42)": shuffled_positions(10, 42).tolist(),
    }
    want = {
        "Rng(42) first four": [1546998764402558742, 6990951692964543102, 12544586762248559009,
                               17057574109182124193],
        "Rng(7) uniformInt(0, 9)": [4, 4, 8, 4, 4, 1, 6, 6],
        "shuffleIndices(0..9, 42)": [7, 3, 8, 9, 5, 6, 4, 1, 0, 2],
    }
    bad = [name for name in want if got[name] != want[name]]
    for name in want:
        print(f"{name}: {'ok' if got[name] == want[name] else f'differs: {got[name]} != {want[name]}'}")
    sys.exit(1 if bad else 0)

if __name__ == "__main__":
    main()
