"""One training epoch of an MLP on the 60k Fashion-MNIST images with PyTorch, single thread
(unless TORCH_THREADS / BLAS_THREADS say otherwise).

Times the whole epoch: the shuffle, batch assembly (indexing), forward, backward and the
SGD update, like the nnspec side. Prints one line: `torch samples_per_s=<float> seconds=<float>`.
Usage: python3 torch_mlp_epoch.py WIDTHS BATCH LR [SEED], e.g. 784,500,300,10 128 0.1
"""
import gzip
import struct
import sys
import time

import numpy as np
import torch

# Threads: one each unless the environment says otherwise (bench/run_threads.sh searches
# PyTorch's best two-thread configuration): TORCH_THREADS for PyTorch's intra-op pool,
# BLAS_THREADS for OpenBLAS/MKL.
import os

torch.set_num_threads(int(os.environ.get("TORCH_THREADS", "1")))
try:  # pin OpenBLAS/MKL as well, when threadpoolctl is there
    from threadpoolctl import threadpool_limits
    threadpool_limits(int(os.environ.get("BLAS_THREADS", "1")))
except ImportError:
    pass

DIR = "/usr/share/datasets/fashion-mnist"


def read_idx(path):
    with gzip.open(path, "rb") as stream:
        data = stream.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows * cols)
    return np.frombuffer(data, dtype=np.uint8, offset=8)


def main():
    widths = [int(w) for w in sys.argv[1].split(",")]
    batch = int(sys.argv[2])
    lr = float(sys.argv[3])
    seed = int(sys.argv[4]) if len(sys.argv) > 4 else 0
    torch.manual_seed(seed)
    x = torch.from_numpy(read_idx(f"{DIR}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    y = torch.from_numpy(read_idx(f"{DIR}/train-labels-idx1-ubyte.gz").astype(np.int64))
    layers = []
    for k in range(1, len(widths)):
        layers.append(torch.nn.Linear(widths[k - 1], widths[k]))
        if k + 1 < len(widths):
            layers.append(torch.nn.ReLU())
    model = torch.nn.Sequential(*layers)
    optimizer = torch.optim.SGD(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    start = time.perf_counter()
    order = torch.randperm(x.shape[0])
    for begin in range(0, x.shape[0], batch):
        index = order[begin:begin + batch]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[index]), y[index])
        loss.backward()
        optimizer.step()
    seconds = time.perf_counter() - start
    blas = "?"
    try:
        from threadpoolctl import threadpool_info
        blas = ",".join(f"{i['internal_api']}:{i['num_threads']}" for i in threadpool_info())
    except ImportError:
        pass
    print(f"torch samples_per_s={x.shape[0] / seconds:.1f} seconds={seconds:.3f} loss={loss.item():.4f} pools={blas}")


if __name__ == "__main__":
    main()
