"""One training epoch of dat565's LeNet-5 on the 60k Fashion-MNIST images with PyTorch, single thread.

The architecture of specs/dat565_mnist.nnspec's lenet5: zero padding 2, conv 6x5x5 relu,
avg pool 2/2, conv 16x5x5 relu, avg pool 2/2, flatten, dense 120 relu, dropout 0.5,
dense 84 relu, dense 10; softmax cross-entropy plus Keras-style L2 (1e-4 * sum of squared
weights of the two hidden dense kernels, added to the loss); Adam lr 1e-3.
Times the whole epoch: the shuffle, batch assembly (indexing), forward, backward and the
Adam update, like the nnspec side. Prints one line:
`torch samples_per_s=<float> seconds=<float> loss=<float> pools=<blas:threads>`.
Usage: python3 torch_lenet_epoch.py BATCH LR [SEED] [--no-dropout]
"""
import sys
import time

import torch

from torch_mlp_epoch import read_idx, DIR  # noqa: E402  (also pins the thread pools to 1)

import numpy as np


def lenet5(dropout):
    layers = [
        torch.nn.ZeroPad2d(2),
        torch.nn.Conv2d(1, 6, 5), torch.nn.ReLU(), torch.nn.AvgPool2d(2, 2),
        torch.nn.Conv2d(6, 16, 5), torch.nn.ReLU(), torch.nn.AvgPool2d(2, 2),
        torch.nn.Flatten(),
        torch.nn.Linear(400, 120), torch.nn.ReLU(),
    ]
    if dropout:
        layers.append(torch.nn.Dropout(0.5))
    layers += [torch.nn.Linear(120, 84), torch.nn.ReLU(), torch.nn.Linear(84, 10)]
    model = torch.nn.Sequential(*layers)
    penalized = [layers[8].weight, layers[-3].weight]  # the two hidden dense kernels
    return model, penalized


def main():
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    dropout = "--no-dropout" not in sys.argv
    batch = int(args[0])
    lr = float(args[1])
    seed = int(args[2]) if len(args) > 2 else 0
    torch.manual_seed(seed)
    x = torch.from_numpy(read_idx(f"{DIR}/train-images-idx3-ubyte.gz").astype(np.float32) / 255.0)
    x = x.reshape(-1, 1, 28, 28)
    y = torch.from_numpy(read_idx(f"{DIR}/train-labels-idx1-ubyte.gz").astype(np.int64))
    model, penalized = lenet5(dropout)
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
    print(f"torch samples_per_s={x.shape[0] / seconds:.1f} seconds={seconds:.3f} loss={loss.item():.4f} "
          f"dropout={int(dropout)} pools={blas}")


if __name__ == "__main__":
    main()
