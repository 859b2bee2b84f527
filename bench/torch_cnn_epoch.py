"""One training epoch of amath482's CNN on the 60k Fashion-MNIST images with PyTorch, single thread.

The architecture of specs/amath482_fashion.nnspec's cnn (bench/specs/amath482_cnn.nnspec):
conv 10x5x5 'same' elu, max pool 4 stride 2, conv 32x5x5 'same' elu, max pool 4 stride 2,
conv 120x5x5 elu, flatten, dense 64 elu, dense 10; softmax cross-entropy plus Keras-style
L2 (1e-4 * sum of squared weights of the two dense kernels, added to the loss); Adam lr
1e-3, batch 32. Times the whole epoch: the shuffle, batch assembly (indexing), forward,
backward and the Adam update, like the nnspec side. Prints one line:
`torch samples_per_s=<float> seconds=<float> loss=<float> pools=<blas:threads>`.
Usage: python3 torch_cnn_epoch.py [BATCH] [LR] [SEED]
"""
import sys
import time

import numpy as np
import torch

from torch_mlp_epoch import read_idx, DIR  # noqa: E402  (also pins the thread pools to 1)


def amath482_cnn():
    dense1, dense2 = torch.nn.Linear(120, 64), torch.nn.Linear(64, 10)
    model = torch.nn.Sequential(
        torch.nn.Conv2d(1, 10, 5, padding=2), torch.nn.ELU(), torch.nn.MaxPool2d(4, 2),
        torch.nn.Conv2d(10, 32, 5, padding=2), torch.nn.ELU(), torch.nn.MaxPool2d(4, 2),
        torch.nn.Conv2d(32, 120, 5), torch.nn.ELU(),
        torch.nn.Flatten(),
        dense1, torch.nn.ELU(), dense2,
    )
    return model, [dense1.weight, dense2.weight]


def main():
    batch = int(sys.argv[1]) if len(sys.argv) > 1 else 32
    lr = float(sys.argv[2]) if len(sys.argv) > 2 else 1e-3
    seed = int(sys.argv[3]) if len(sys.argv) > 3 else 0
    torch.manual_seed(seed)
    x = torch.from_numpy(read_idx(f"{DIR}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    x = x.reshape(-1, 1, 28, 28)
    y = torch.from_numpy(read_idx(f"{DIR}/train-labels-idx1-ubyte.gz").astype(np.int64))
    model, penalized = amath482_cnn()
    model.train()
    optimizer = torch.optim.Adam(model.parameters(), lr=lr)
    loss_fn = torch.nn.CrossEntropyLoss()
    l2 = 1e-4
    start = time.perf_counter()
    order = torch.randperm(x.shape[0])
    for begin in range(0, x.shape[0], batch):
        index = order[begin:begin + batch]
        optimizer.zero_grad(set_to_none=True)
        loss = loss_fn(model(x[index]), y[index])
        total = loss + l2 * sum((w * w).sum() for w in penalized)
        total.backward()
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
