"""The best point of one sweep of an nnspec study, from `nnspec export STORE --format json`.

Reads the export on stdin; prints one line:
`nnspec best=<point> <metric>=<mean over folds> points=<n> ranked_points=<n> finished=<trials>
pruned=<trials> failed=<trials> epochs=<trained, all trials and refits> scores=...`
(scores: POINT:MEAN of every ranked point, best first). Exits 1 when the sweep is missing or has no ranked point.
Usage: nnspec export STORE --format json | python3 nnspec_study_best.py SWEEP
"""
import json
import re
import sys


def short(point):
    """A point's key without the spaces after commas and colons, long floats cut to 4 digits."""
    return re.sub(r"\d+\.\d{5,}(e-?\d+)?", lambda m: f"{float(m.group()):.4g}",
                  point.replace(", ", ",").replace(": ", ":"))


def main():
    if len(sys.argv) != 2:
        sys.exit("usage: nnspec export STORE --format json | python3 nnspec_study_best.py SWEEP")
    study = json.load(sys.stdin)
    sweeps = [s for s in study["sweeps"] if s["name"] == sys.argv[1]]
    if not sweeps:
        names = ", ".join(s["name"] for s in study["sweeps"])
        sys.exit(f"error: the study has no sweep '{sys.argv[1]}' (it has: {names})")
    sweep = sweeps[0]
    metric = sweep["rank_metric"]
    ranked = [p for p in sweep["points"] if p["rank"] is not None and metric in p["metrics"]]
    if not ranked:
        sys.exit(f"error: sweep '{sweep['name']}' has no ranked point")
    best = min(ranked, key=lambda p: p["rank"])
    count = lambda key: sum(p[key] for p in sweep["points"])  # noqa: E731
    epochs = sum(len(trial["epochs"]) for trial in study.get("trials", []) if trial["sweep"] == sweep["name"])
    scores = " ".join(f"{short(p['point'])}:{p['metrics'][metric]['mean']:.4f}"
                      for p in sorted(ranked, key=lambda p: p["rank"]))
    print(f"nnspec best={short(best['point'])} {metric}={best['metrics'][metric]['mean']:.4f} "
          f"points={len(sweep['points'])} ranked_points={len(ranked)} finished={count('finished')} pruned={count('pruned')} "
          f"failed={count('failed')} epochs={epochs} scores={scores}")


if __name__ == "__main__":
    main()
