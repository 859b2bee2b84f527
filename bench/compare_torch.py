"""Replays nnspec's first training steps in PyTorch and compares the loss of every step.

Reads a directory written by nnspec_bench_train_steps (bench/train_steps.cpp): the model's
checked layers, nnspec's initial parameters, the batches in nnspec's order and the dropout
seed of every step. Builds the same model with torch modules (NCHW; nnspec's
channels-last kernels permuted into torch's layouts), adds the L1/L2 penalties to the loss
the way nnspec does (factor * sum(w^2), Keras' regularizer: gradient 2 * factor * w), runs
the same optimizer with the same constants, and prints per step both losses and their
relative difference. Exits 1 when the largest relative difference exceeds the tolerance.

Dropout: nnspec's masks are a counter-based hash of (step seed, layer stream, element)
(nnspec_dropout_bits in runtime/abi/step_abi.h); the same masks are drawn here, so models
with dropout are compared with dropout on.

Float32 in both; torch and OpenBLAS pinned to one thread.
Usage: python3 compare_torch.py DIR [TOLERANCE]   (default 1e-4)
"""
import gzip
import json
import os
import struct
import sys

import numpy as np
import torch
import torch.nn.functional as F

torch.set_num_threads(1)
try:
    from threadpoolctl import threadpool_limits
    threadpool_limits(1)
except ImportError:
    pass

FASHION_MNIST_DIR = os.environ.get("NNSPEC_FASHION_MNIST_DIR", "/usr/share/datasets/fashion-mnist")
MASK64 = (1 << 64) - 1


def dropout_keep(seed, stream, count, rate):
    """nnspec_dropout_bits(seed, stream, index) >= nnspec_dropout_threshold(rate), per index."""
    index = np.arange(count, dtype=np.uint64)
    base = np.uint64((seed + stream * 0x9E3779B97F4A7C15) & MASK64)
    z = base + index * np.uint64(0xD6E8FEB86659FD93)
    z ^= z >> np.uint64(33)
    z *= np.uint64(0xFF51AFD7ED558CCD)
    z ^= z >> np.uint64(33)
    z *= np.uint64(0xC4CEB9FE1A85EC53)
    z ^= z >> np.uint64(33)
    bits = z >> np.uint64(40)
    threshold = int(rate * 16777216.0 + 0.5)
    return bits >= np.uint64(threshold)


def pair(value):
    return (int(value[0]), int(value[1])) if isinstance(value, list) else (int(value), int(value))


def same_pads(size, kernel, stride):
    """TensorFlow's 'same': out = ceil(in/stride), the smaller half of the padding first."""
    out = (size + stride - 1) // stride
    total = max((out - 1) * stride + kernel - size, 0)
    return total // 2, total - total // 2


def activate(x, name, alpha):
    if name == "linear":
        return x
    if name == "relu":
        return F.relu(x)
    if name == "sigmoid":
        return torch.sigmoid(x)
    if name == "tanh":
        return torch.tanh(x)
    if name == "leaky_relu":
        return F.leaky_relu(x, alpha)
    if name == "elu":
        return F.elu(x, alpha)
    raise NotImplementedError(f"activation {name}")


class Replay(torch.nn.Module):
    """The checked layers of meta.json as torch modules, images NCHW."""

    def __init__(self, meta, weights):
        super().__init__()
        self.meta = meta
        self.modules_by_layer = torch.nn.ModuleList()
        self.penalized = {}  # penalty name -> the torch weight it applies to
        used = set()
        for layer in meta["layers"]:
            kind, args = layer["kind"], layer["args"]
            module = torch.nn.Identity()
            if kind == "conv2d":
                kernel = weights[layer["kernel_param"]]  # [kh, kw, cin, cout]
                module = torch.nn.Conv2d(kernel.shape[2], kernel.shape[3], kernel.shape[:2], stride=pair(args["stride"]),
                                         bias=args["bias"])
                with torch.no_grad():
                    module.weight.copy_(torch.from_numpy(kernel).permute(3, 2, 0, 1))  # [cout, cin, kh, kw]
                used.add(layer["kernel_param"])
            elif kind == "dense":
                kernel = weights[layer["kernel_param"]]  # [in, out]
                module = torch.nn.Linear(kernel.shape[0], kernel.shape[1], bias=args["bias"])
                with torch.no_grad():
                    module.weight.copy_(torch.from_numpy(kernel).t())  # [out, in]
                used.add(layer["kernel_param"])
            if kind in ("conv2d", "dense"):
                if args["bias"]:
                    with torch.no_grad():
                        module.bias.copy_(torch.from_numpy(weights[layer["bias_param"]]))
                    used.add(layer["bias_param"])
                prefix = layer["kernel_param"].rsplit(".", 1)[0]
                for kind_of_penalty in ("l1", "l2"):
                    name = f"{prefix}.{kind_of_penalty}"
                    if name in meta["penalties"]:
                        self.penalized[name] = module.weight
            self.modules_by_layer.append(module)
        missing = set(weights) - used
        if missing or set(self.penalized) != set(meta["penalties"]):
            raise ValueError(f"parameters not placed: {sorted(missing)}; penalties: {sorted(meta['penalties'])}")

    def forward(self, x, dropout_seed):
        batch = x.shape[0]
        shape = self.meta["input_shape"]
        images = len(shape) == 3
        if images:
            x = x.reshape(batch, *shape).permute(0, 3, 1, 2)  # NHWC -> NCHW
        layers = self.meta["layers"]
        for position, (layer, module) in enumerate(zip(layers, self.modules_by_layer)):
            kind, args = layer["kind"], layer["args"]
            last = position + 1 == len(layers)
            if kind == "conv2d":
                if args["padding"] == "same":
                    (kh, kw), (sh, sw) = pair(args["kernel"]), pair(args["stride"])
                    top, bottom = same_pads(x.shape[2], kh, sh)
                    left, right = same_pads(x.shape[3], kw, sw)
                    x = F.pad(x, (left, right, top, bottom))
                x = activate(module(x), layer["activation"], layer["activation_alpha"])
            elif kind in ("maxpool", "avgpool"):
                if args["padding"] != "valid":
                    raise NotImplementedError("pooling with padding same")
                size, stride = pair(args["size"]), pair(args["stride"])
                x = F.max_pool2d(x, size, stride) if kind == "maxpool" else F.avg_pool2d(x, size, stride)
            elif kind == "zeropad":
                rows, cols = pair(args["padding"])
                x = F.pad(x, (cols, cols, rows, rows))
            elif kind == "flatten":
                if x.dim() == 4:  # nnspec flattens channels last: (h, w, c)
                    x = x.permute(0, 2, 3, 1)
                x = x.reshape(batch, -1)
            elif kind == "dense":
                x = module(x)
                if not (last and layer["activation"] == "softmax"):  # softmax is in the loss
                    x = activate(x, layer["activation"], layer["activation_alpha"])
            elif kind == "dropout":
                rate = args["rate"]
                if rate > 0:
                    channels_last = x.permute(0, 2, 3, 1) if x.dim() == 4 else x
                    keep = dropout_keep(dropout_seed, layer["stream"], channels_last.numel(), rate)
                    mask = torch.from_numpy(keep.reshape(channels_last.shape).astype(np.float32))
                    if x.dim() == 4:
                        mask = mask.permute(0, 3, 1, 2)
                    x = x * mask * np.float32(1.0 / (1.0 - rate))
            elif kind in ("relu", "sigmoid", "tanh", "leaky_relu", "elu", "linear"):
                x = activate(x, kind, args.get("alpha", 0.0))
            elif kind == "softmax" and last:
                pass
            else:
                raise NotImplementedError(f"layer {kind}")
        return x

    def penalty(self):
        total = torch.zeros((), dtype=torch.float32)
        for name, weight in self.penalized.items():
            factor = np.float32(self.meta["penalties"][name])
            total = total + factor * (weight.pow(2).sum() if name.endswith(".l2") else weight.abs().sum())
        return total


def make_optimizer(spec, parameters):
    kind = spec["kind"]
    if kind == "adam":
        maker = torch.optim.AdamW if spec["decoupled"] else torch.optim.Adam
        return maker(parameters, lr=spec["lr"], betas=(spec["beta1"], spec["beta2"]), eps=spec["eps"],
                     weight_decay=spec["weight_decay"])
    if kind == "sgd":
        return torch.optim.SGD(parameters, lr=spec["lr"], momentum=spec["momentum"], nesterov=spec["nesterov"],
                               weight_decay=spec["weight_decay"])
    if kind == "rmsprop":
        return torch.optim.RMSprop(parameters, lr=spec["lr"], alpha=spec["alpha"], eps=spec["eps"],
                                   weight_decay=spec["weight_decay"], momentum=spec["momentum"])
    if kind == "adagrad":
        return torch.optim.Adagrad(parameters, lr=spec["lr"], eps=spec["eps"], weight_decay=spec["weight_decay"])
    raise NotImplementedError(f"optimizer {kind}")


def read_idx(path):
    with gzip.open(path, "rb") as stream:
        data = stream.read()
    magic, count = struct.unpack(">II", data[:8])
    if magic == 0x803:
        rows, cols = struct.unpack(">II", data[8:16])
        return np.frombuffer(data, dtype=np.uint8, offset=16).reshape(count, rows * cols)
    return np.frombuffer(data, dtype=np.uint8, offset=8)


def check_batches(meta, xs, labels, indices):
    """For Fashion-MNIST, the batches are the data set's samples at the written indices."""
    data = meta["data"]
    if not data or data["source"] != "fashion_mnist" or data["part"] not in ("train", "test"):
        return "batches: as written by nnspec (not re-read from the data set)"
    prefix = "train" if data["part"] == "train" else "t10k"
    images = read_idx(f"{FASHION_MNIST_DIR}/{prefix}-images-idx3-ubyte.gz")
    targets = read_idx(f"{FASHION_MNIST_DIR}/{prefix}-labels-idx1-ubyte.gz")
    expected_x = images[indices.reshape(-1)].astype(np.float32) / np.float32(255.0)
    if not np.allclose(expected_x.reshape(xs.shape), xs, rtol=0, atol=1e-6):
        raise ValueError("the batches differ from the Fashion-MNIST samples at the written indices")
    if not np.array_equal(targets[indices.reshape(-1)].reshape(labels.shape), labels):
        raise ValueError("the labels differ from the Fashion-MNIST labels at the written indices")
    return f"batches: equal to Fashion-MNIST {data['part']} samples at nnspec's indices"


def main():
    directory = sys.argv[1]
    tolerance = float(sys.argv[2]) if len(sys.argv) > 2 else 1e-4
    with open(os.path.join(directory, "meta.json")) as stream:
        meta = json.load(stream)
    steps, batch, features = meta["steps"], meta["batch"], meta["features"]
    flat = np.fromfile(os.path.join(directory, "params.bin"), dtype=np.float32)
    weights, offset = {}, 0
    for parameter in meta["parameters"]:
        count = int(np.prod(parameter["shape"]))
        weights[parameter["name"]] = flat[offset:offset + count].reshape(parameter["shape"]).copy()
        offset += count
    assert offset == flat.size, "params.bin does not match the parameter list"
    xs = np.fromfile(os.path.join(directory, "x.bin"), dtype=np.float32).reshape(steps, batch, features)
    labels = np.fromfile(os.path.join(directory, "labels.bin"), dtype=np.int32).reshape(steps, batch)
    indices = np.loadtxt(os.path.join(directory, "indices.txt"), dtype=np.int64).reshape(steps, batch)
    nnspec = np.loadtxt(os.path.join(directory, "nnspec_losses.txt")).reshape(steps, 3)
    seeds = [int(seed) for seed in meta["dropout_seeds"]]
    provenance = check_batches(meta, xs, labels, indices)

    model = Replay(meta, weights)
    optimizer = make_optimizer(meta["optimizer"], model.parameters())
    dropout = any(layer["kind"] == "dropout" and layer["args"]["rate"] > 0 for layer in meta["layers"])
    print(f"model '{meta['model']}' of {meta['spec']} (sweep '{meta['sweep']}', {meta['point'] or 'single point'}): "
          f"{sum(p.numel() for p in model.parameters())} parameters, batch {batch}, {steps} steps, "
          f"{meta['optimizer']['kind']}(lr={meta['optimizer']['lr']:g}), penalties {meta['penalties'] or 'none'}"
          f"{', dropout on (nnspec masks)' if dropout else ''}; torch {torch.__version__}, 1 thread, float32")
    print(provenance)
    print(f"{'step':>4}  {'nnspec loss':>12}  {'torch loss':>12}  {'rel diff':>9}  {'nnspec data':>12}  "
          f"{'torch data':>12}  {'rel diff':>9}")
    worst = 0.0
    for step in range(steps):
        optimizer.zero_grad(set_to_none=True)
        logits = model(torch.from_numpy(xs[step]), seeds[step])
        data_loss = F.cross_entropy(logits, torch.from_numpy(labels[step].astype(np.int64)))
        total_loss = data_loss + model.penalty()
        total_loss.backward()
        optimizer.step()
        ours_data, ours_total = nnspec[step, 1], nnspec[step, 2]
        theirs_data, theirs_total = float(data_loss), float(total_loss)
        rel_total = abs(ours_total - theirs_total) / abs(theirs_total)
        rel_data = abs(ours_data - theirs_data) / abs(theirs_data)
        worst = max(worst, rel_total, rel_data)
        print(f"{step + 1:>4}  {ours_total:>12.7f}  {theirs_total:>12.7f}  {rel_total:>9.2e}  {ours_data:>12.7f}  "
              f"{theirs_data:>12.7f}  {rel_data:>9.2e}")
    verdict = "ok" if worst <= tolerance else "FAIL"
    print(f"max relative difference {worst:.3e} (tolerance {tolerance:g}): {verdict}")
    return 0 if worst <= tolerance else 1


if __name__ == "__main__":
    sys.exit(main())
