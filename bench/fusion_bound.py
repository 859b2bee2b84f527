"""What bounds sweep fusion's speed-up, two ways.

The run: how fast the unfused trials of a run trained, in GFLOP/s and as a share of the
FMA peak, and so the most a fused step could gain. A fused step does every point's
arithmetic as it would alone (the same FLOPs); it can only run them at a higher rate.
Training time is at least FLOPs / peak, so the fused training of a sweep can be at most
(peak / unfused rate) times faster than training its trials one at a time.

The FLOPs are bench/flops.py's count for an MLP (forward, weight gradients, input
gradients but the first layer's) for every sample of every epoch a trial trained, plus a
forward pass over the held-out samples in the epochs whose record holds val metrics.
The seconds are the epochs' own (the store's epoch.seconds: batches, updates and that
evaluation; not start-up, data loading or compiling), each on one job's core.

The step (with --step): where one unfused train step's time goes, from
nnspec_bench_train_epoch --breakdown: the batch gather, the GEMMs (and the share of the
peak they run at), and the rest (element-wise loops, loss, the optimizer update,
bookkeeping). Fused, a group of K points can at best gather one batch for all K and run
its GEMMs at the full peak; the rest is each point's own work (the same loops over the
same elements, and the update streams each point's own parameters and slots), which
fusing does not shrink. So a fused step trains at most
    total / (total - gather (K-1)/K - gemms (1 - gemm share of the peak))
times faster than K steps alone. Evaluation, start-up and data loading are left out; they
only lower the whole run's ratio further.

The fused kernels as they measure (with --shared): the full peak is more than a fused
step's GEMMs reach. What a fused step shares is its first layer: the points reading one
batch run its forward and weight-gradient GEMMs as one call sharing op(a) (the other
layers' GEMMs are each point's own, as alone). nnspec_bench_gemm_shapes --shared times
those two GEMMs of a group one by one and as one call, at the best CPU level; the time
one call saves a point, with the shared gather, bounds the step at
    total / (total - gather (K-1)/K - first-layer GEMMs' time alone + their time shared)

Usage: python3 fusion_bound.py STORE WIDTHS TRAIN_SAMPLES VAL_SAMPLES PEAK TARGET
                                [--step BREAKDOWN K [--shared SHARED STUDY]]
       python3 fusion_bound.py --step BREAKDOWN K TARGET [--shared SHARED STUDY]   (the step alone)
  STORE          the SQLite store of an unfused run (--fuse off)
  WIDTHS         the MLP's widths, e.g. 784,64,64,10
  TRAIN_SAMPLES  samples a trial trains on in an epoch
  VAL_SAMPLES    samples of a trial's held-out part
  PEAK           the FMA peak of one core, GFLOP/s
  TARGET         the issue's fused/unfused target, e.g. 2.5
  BREAKDOWN      a file holding nnspec_bench_train_epoch --breakdown's table
  K              the points of the largest fused group
  SHARED         a file holding nnspec_bench_gemm_shapes --shared's table
  STUDY          its rows' study: q3, lab3 or dat565
"""
import sqlite3
import sys

from flops import mlp_flops


def forward_flops(widths):
    return 2 * sum(widths[k - 1] * widths[k] for k in range(1, len(widths)))


def breakdown_row(text, label):
    """The us/step and %peak columns of the breakdown's row starting with `label`."""
    for line in text.splitlines():
        if not line.strip().startswith(label):
            continue
        numbers = []  # the row's numbers, from its end: ms/epoch, us/step, share[, GFLOP/s, %peak]
        for token in reversed(line.split()):
            try:
                numbers.insert(0, float(token.rstrip("%")))
            except ValueError:
                break
        if len(numbers) not in (3, 5):
            break
        return numbers[1], numbers[4] / 100 if len(numbers) == 5 else None
    sys.exit(f"error: the breakdown has no row '{label}' (is it nnspec_bench_train_epoch --breakdown's table?)")


def step_bound(text, group, target):
    total, _ = breakdown_row(text, "runTrial epoch")
    gather, _ = breakdown_row(text, "batch gather")
    gemms, gemm_share = breakdown_row(text, "the step's GEMMs alone")
    if gemm_share is None or total <= 0:
        sys.exit("error: the breakdown's GEMM row has no share of the peak")
    gemm_share = min(gemm_share, 1.0)
    saved = gather * (group - 1) / group + gemms * (1 - gemm_share)
    rest = total - gather - gemms
    print(f"bound: an unfused step takes {total:.1f} us: batch gather {gather:.1f}, GEMMs {gemms:.1f} at "
          f"{100 * gemm_share:.0f}% of the peak, the rest {rest:.1f} (element-wise, loss, update, bookkeeping); "
          f"a fused step of {group} gathering once, its GEMMs at the full peak, would train at most "
          f"{total / (total - saved):.2f}x faster (target {target:g}x)")


def shared_rows(text, study):
    """{'fwd': (flop a point, GFLOP/s alone, GFLOP/s shared), 'dW': ...}: the first level's
    rows of `study` in nnspec_bench_gemm_shapes --shared's table (the best level comes first)."""
    rows, level = {}, None
    for line in text.splitlines():
        fields = line.split()
        # level study WxH fwd|dW bB m n k K alone (share%) shared (share%) ratio
        if len(fields) < 10 or fields[1] != study or fields[3] not in ("fwd", "dW"):
            continue
        level = level or fields[0]
        if fields[0] != level:
            break
        try:
            m, n, k = (int(field) for field in fields[5:8])
            numbers = [float(field) for field in line.replace("(", " ").replace("%)", " ").split()[9:12:2]]
        except ValueError:
            continue
        rows[fields[3]] = (2.0 * m * n * k, numbers[0], numbers[1])
    if set(rows) != {"fwd", "dW"}:
        sys.exit(f"error: --shared: no forward and weight-gradient rows of '{study}' "
                 "(is it nnspec_bench_gemm_shapes --shared's table?)")
    return level, rows


def shared_bound(text, group, target, shared_text, study):
    total, _ = breakdown_row(text, "runTrial epoch")
    gather, _ = breakdown_row(text, "batch gather")
    gemms, _ = breakdown_row(text, "the step's GEMMs alone")
    level, rows = shared_rows(shared_text, study)
    alone = sum(flop / rate / 1e3 for flop, rate, _ in rows.values())  # us a point a step
    shared = sum(flop / rate / 1e3 for flop, _, rate in rows.values())
    if alone > 1.5 * gemms:
        sys.exit(f"error: --shared: {study}'s first layer alone takes {alone:.1f} us, more than the breakdown's "
                 f"GEMMs ({gemms:.1f} us): the table's rows are not this breakdown's model")
    saved = gather * (group - 1) / group + alone - shared
    rates = ", ".join(f"{name} {rows[name][1]:.0f} -> {rows[name][2]:.0f}" for name in ("fwd", "dW"))
    print(f"bound: as the fused kernels measure ({level}, the first layer's GEMMs one by one -> shared, GFLOP/s: "
          f"{rates}): they take {alone:.1f} -> {shared:.1f} us a point; a fused step of {group} gathering once "
          f"would train at most {total / (total - saved):.2f}x faster (target {target:g}x)")


def print_step_bound(path, group_text, target, shared=None):
    try:
        group = int(group_text)
        with open(path) as breakdown:
            text = breakdown.read()
        shared_text = None
        if shared is not None:
            with open(shared[0]) as table:
                shared_text = table.read()
    except (OSError, ValueError) as error:
        sys.exit(f"error: --step: {error}")
    if group < 1:
        sys.exit(f"error: --step: K must be at least 1, not {group}")
    step_bound(text, group, target)
    if shared_text is not None:
        shared_bound(text, group, target, shared_text, shared[1])


def main(argv):
    shared = None
    if len(argv) >= 3 and argv[-3] == "--shared":
        shared = (argv[-2], argv[-1])
        argv = argv[:-3]
    if len(argv) == 5 and argv[1] == "--step":  # the step alone
        try:
            target = float(argv[4])
        except ValueError as error:
            sys.exit(f"error: {error}")
        print_step_bound(argv[2], argv[3], target, shared)
        return
    step = None
    if len(argv) == 10 and argv[7] == "--step":
        step = (argv[8], argv[9])
        argv = argv[:7]
    if shared is not None and step is None:
        sys.exit("error: --shared needs --step BREAKDOWN K")
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
    if step is not None:
        print_step_bound(step[0], step[1], target, shared)


if __name__ == "__main__":
    main(sys.argv)
