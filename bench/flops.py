"""FLOPs of one training step per sample, and samples/s turned into GFLOP/s and % of peak.

Counted: the multiply-adds of dense layers and convolutions (2 FLOPs each), for the
forward pass, the weight gradients and the input gradients -- except the first layer's
input gradient, which no one needs (so 784-500-300-10 is 2.49 MFLOP a sample, 149 GFLOP a
60k epoch, the figure of DESIGN.md). Not counted: bias adds, activations, pooling, the
loss and the optimizer update (memory-bound, a few percent of the work at most here).

Layers, comma-separated, for `cnn` (shapes as nnspec's: height, width, channels):
  conv:FILTERS:KERNEL[:same]   stride 1, 'valid' unless :same
  maxpool:SIZE[:STRIDE] avgpool:SIZE[:STRIDE]   'valid' (stride defaults to SIZE)
  zeropad:P   flatten   dense:UNITS   (dropout and activations: leave them out)
Presets: lenet5 (dat565's), amath482_cnn, hw1_lenet5.

Usage:
  python3 flops.py mlp 784,500,300,10 [--samples-per-s R] [--peak 220] [--cores 1]
  python3 flops.py cnn amath482_cnn [--input 28,28,1] [--samples-per-s R] ...
  python3 flops.py cnn conv:6:5,avgpool:2,conv:16:5,avgpool:2,flatten,dense:120,dense:84,dense:10
As a library: mlp_flops(widths), cnn_flops(layers, input_shape), gflops(per_sample, rate).
"""
import argparse
import sys

PEAK_PER_CORE = 220.0  # GFLOP/s, the measured FMA peak of one Zen 5 core (DESIGN.md)

PRESETS = {
    "lenet5": "zeropad:2,conv:6:5,avgpool:2,conv:16:5,avgpool:2,flatten,dense:120,dense:84,dense:10",
    "amath482_cnn": "conv:10:5:same,maxpool:4:2,conv:32:5:same,maxpool:4:2,conv:120:5,flatten,dense:64,dense:10",
    "hw1_lenet5": "conv:6:5:same,maxpool:2:2,conv:16:5,maxpool:2:2,flatten,dense:120,dense:84,dense:10",
}


def mlp_flops(widths):
    """Training FLOPs a sample of an MLP with layer widths [in, hidden..., out]."""
    macs = [widths[k - 1] * widths[k] for k in range(1, len(widths))]
    return _training_flops(macs)


def _training_flops(macs):
    """Forward + weight gradients + input gradients (not the first layer's), 2 FLOPs a MAC."""
    if not macs:
        return 0
    return 2 * (sum(macs) + sum(macs) + sum(macs[1:]))


def cnn_flops(layers, input_shape=(28, 28, 1)):
    """Training FLOPs a sample of a layer list (see the module's doc); returns (flops, shapes)."""
    height, width, channels = input_shape
    flat = None
    macs, shapes = [], []
    for text in layers:
        kind, *args = text.split(":")
        if kind == "zeropad":
            height, width = height + 2 * int(args[0]), width + 2 * int(args[0])
        elif kind == "conv":
            filters, kernel = int(args[0]), int(args[1])
            same = len(args) > 2 and args[2] == "same"
            if not same:
                height, width = height - kernel + 1, width - kernel + 1
            macs.append(height * width * filters * kernel * kernel * channels)
            channels = filters
        elif kind in ("maxpool", "avgpool"):
            size = int(args[0])
            stride = int(args[1]) if len(args) > 1 else size
            height, width = (height - size) // stride + 1, (width - size) // stride + 1
        elif kind == "flatten":
            flat = height * width * channels
        elif kind == "dense":
            units = int(args[0])
            if flat is None:
                raise ValueError(f"'{text}' needs a 'flatten' before it")
            macs.append(flat * units)
            flat = units
        else:
            raise ValueError(f"unknown layer '{text}': use conv, maxpool, avgpool, zeropad, flatten or dense")
        if height <= 0 or width <= 0:
            raise ValueError(f"'{text}' leaves no output ({height}x{width})")
        shapes.append((text, (flat,) if flat is not None else (height, width, channels)))
    return _training_flops(macs), shapes


def gflops(per_sample, samples_per_s):
    return per_sample * samples_per_s / 1e9


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("kind", choices=["mlp", "cnn"])
    parser.add_argument("layers", help="mlp: widths 784,500,300,10; cnn: a preset or a layer list")
    parser.add_argument("--input", default="28,28,1", help="cnn input shape H,W,C (default 28,28,1)")
    parser.add_argument("--samples-per-s", type=float, action="append", default=[],
                        help="a measured rate (repeatable: one line each)")
    parser.add_argument("--label", action="append", default=[], help="a name for each rate")
    parser.add_argument("--peak", type=float, default=PEAK_PER_CORE, help="GFLOP/s of one core (default 220)")
    parser.add_argument("--cores", type=int, default=1)
    args = parser.parse_args()
    try:
        if args.kind == "mlp":
            per_sample = mlp_flops([int(w) for w in args.layers.split(",")])
        else:
            layers = PRESETS.get(args.layers, args.layers).split(",")
            per_sample, _ = cnn_flops(layers, tuple(int(d) for d in args.input.split(",")))
    except ValueError as error:
        sys.exit(f"error: {error}")
    peak = args.peak * args.cores
    print(f"training FLOPs: {per_sample / 1e6:.3f} MFLOP a sample, {per_sample * 60000 / 1e9:.1f} GFLOP a 60k epoch")
    for index, rate in enumerate(args.samples_per_s):
        label = args.label[index] if index < len(args.label) else f"rate {index + 1}"
        achieved = gflops(per_sample, rate)
        print(f"{label}: {rate:.1f} samples/s = {achieved:.1f} GFLOP/s, {100 * achieved / peak:.1f}% of "
              f"{peak:.0f} GFLOP/s ({args.cores} core{'s' if args.cores != 1 else ''} x {args.peak:.0f})")


if __name__ == "__main__":
    main()
