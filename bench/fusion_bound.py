"""What bounds sweep fusion's speed-up: how fast the unfused trials of a run trained, in
GFLOP/s and as a share of the FMA peak, and so the most a fused step could gain.

A fused step does every point's arithmetic as it would alone (the same FLOPs); it can
only run them at a higher rate. Training time is at least FLOPs / peak, so the fused
training of a sweep can be at most (peak / unfused rate) times faster than training its
trials one at a time. That ceiling is printed beside the targets of the issue.

The FLOPs are bench/flops.py's count for an MLP (forward, weight gradients, input
gradients but the first layer's) for every sample of every epoch a trial trained, plus a
forward pass over the held-out samples in the epochs whose record holds val metrics.
The seconds are the epochs' own (the store's epoch.seconds: batches, updates and that
evaluation; not start-up, data loading or compiling), each on one job's core.

Usage: python3 fusion_bound.py STORE WIDTHS TRAIN_SAMPLES VAL_SAMPLES PEAK TARGET
  STORE          the SQLite store of an unfused run (--fuse off)
  WIDTHS         the MLP's widths, e.g. 784,64,64,10
  TRAIN_SAMPLES  samples a trial trains on in an epoch
  VAL_SAMPLES    samples of a trial's held-out part
  PEAK           the FMA peak of one core, GFLOP/s
  TARGET         the issue's fused/unfused target, e.g. 2.5
"""
import sqlite3
import sys

from flops import mlp_flops


def forward_flops(widths):
    return 2 * sum(widths[k - 1] * widths[k] for k in range(1, len(widths)))


def main(argv):
    if len(argv) != 7:
        sys.exit(__doc__.split("\n\n")[-1])
    store, widths_text, train_text, val_text, peak_text, target_text = argv[1:]
    try:
        widths = [int(w) for w in widths_text.split(",")]
        train_samples, val_samples = int(train_text), int(val_text)
        peak, target = float(peak_text), float(target_text)
    except ValueError as error:
        sys.exit(f"error: {error} (e.g. fusion_bound.py run.sqlite 784,64,64,10 55000 5000 242 2.5)")
    with sqlite3.connect(f"file:{store}?mode=ro", uri=True) as db:
        epochs, seconds = db.execute("SELECT count(*), coalesce(sum(seconds), 0) FROM epoch").fetchone()
        evaluated = db.execute("SELECT count(DISTINCT trial_id || ':' || epoch) FROM epoch_metric "
                               "WHERE name LIKE 'val.%'").fetchone()[0]
    if epochs == 0 or seconds <= 0:
        sys.exit(f"error: {store} holds no trained epochs")
    flops = epochs * train_samples * mlp_flops(widths) + evaluated * val_samples * forward_flops(widths)
    rate = flops / seconds / 1e9
    share = rate / peak
    print(f"bound: unfused, {epochs} epochs trained at {rate:.1f} GFLOP/s a job = {100 * share:.0f}% of the FMA "
          f"peak ({peak:.0f}); a fused step at the full peak would train at most {1 / share:.2f}x faster "
          f"(target {target:g}x)")


if __name__ == "__main__":
    main(sys.argv)
