#!/usr/bin/env python3
"""Paired comparison of prodcat and the scikit-learn word+char anchor on the same rows.

One test split decides little when two models differ by a few rows, so this
compares them twice, always on identical rows:

  * on the test split, row by row: how many rows only one of them gets right,
    and McNemar's exact test of whether that split could be chance;
  * by repeated stratified k-fold cross-validation on the training split: both
    models train and predict on the same fold files, and the per-fold weighted
    F1 differences get the corrected resampled t-test (Nadeau and Bengio,
    2003), which allows for the folds sharing training rows.

The anchor is the pipeline of ../shared/bench/sklearn_baseline.py, imported
from there. Ours is `starter offline` with default parameters.

Usage: bench_ml_paired.py STARTER SPLITS ANCHOR_DIR NAME... (env FOLDS, SEEDS)
"""
import csv
import json
import math
import os
import subprocess
import sys
import tempfile

from scipy import stats
from sklearn.metrics import f1_score
from sklearn.model_selection import StratifiedKFold

ANCHOR_MODEL = "tfidf-word12+char25+linearsvc"


def write_csv(path, texts, labels):
    with open(path, "w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["text", "label"])
        w.writerows(zip(texts, labels))


def ours(starter, work, train_texts, train_labels, test_texts, test_labels):
    """Trains and predicts with starter offline; returns predictions in row order."""
    tr, te, pr = (os.path.join(work, n) for n in ("train.csv", "test.csv", "pred.csv"))
    write_csv(tr, train_texts, train_labels)
    write_csv(te, test_texts, test_labels)
    subprocess.run([starter, "offline", "--json", "--log-level", "warn", "--train", tr, "--test", te,
                    "--text-col", "text", "--label-col", "label", "--predictions", pr],
                   check=True, stdout=subprocess.DEVNULL)
    with open(pr, newline="") as f:
        rows = list(csv.DictReader(f))
    if len(rows) != len(test_texts):
        sys.exit(f"bench-ml-paired: {len(rows)} predictions for {len(test_texts)} rows")
    return [r["predicted"] for r in rows]


def anchor(models, train_texts, train_labels, test_texts):
    m = models[ANCHOR_MODEL]()
    m.fit(train_texts, train_labels)
    return list(m.predict(test_texts))


def wf1(y, pred):
    return float(f1_score(y, pred, average="weighted"))


def mcnemar(y, a, b):
    """Rows only a gets right, rows only b gets right, exact two-sided p."""
    only_a = sum(1 for t, p, q in zip(y, a, b) if p == t and q != t)
    only_b = sum(1 for t, p, q in zip(y, a, b) if p != t and q == t)
    n = only_a + only_b
    p = 1.0 if n == 0 else min(1.0, 2 * float(stats.binom.cdf(min(only_a, only_b), n, 0.5)))
    return only_a, only_b, p


def corrected_t(diffs, test_frac):
    """Nadeau-Bengio corrected resampled t-test on paired fold differences."""
    j = len(diffs)
    mean = sum(diffs) / j
    var = sum((d - mean) ** 2 for d in diffs) / (j - 1)
    se = math.sqrt((1 / j + test_frac / (1 - test_frac)) * var)
    if se == 0:
        return mean, 0.0, 1.0
    t = mean / se
    return mean, t, 2 * float(stats.t.sf(abs(t), j - 1))


def main():
    starter, splits, anchor_dir, names = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4:]
    folds = int(os.environ.get("FOLDS", "5"))
    seeds = [int(s) for s in os.environ.get("SEEDS", "1 2 3").split()]
    sys.path.insert(0, anchor_dir)
    import sklearn_baseline as base
    base.SPLITS = splits
    models = dict(base.models())
    results = {}
    with tempfile.TemporaryDirectory() as work:
        for name in names:
            xtr, ytr = base.load(name, "train")
            xte, yte = base.load(name, "test")
            print(f"bench-ml-paired: {name}: test split", file=sys.stderr, flush=True)
            po = ours(starter, work, xtr, ytr, xte, yte)
            pa = anchor(models, xtr, ytr, xte)
            only_o, only_a, p = mcnemar(yte, po, pa)
            r = {"test": {"ours_wf1": wf1(yte, po), "anchor_wf1": wf1(yte, pa), "rows": len(yte),
                          "only_ours_right": only_o, "only_anchor_right": only_a, "mcnemar_p": p}}
            diffs, fo, fa = [], [], []
            for seed in seeds:
                skf = StratifiedKFold(folds, shuffle=True, random_state=seed)
                for k, (tr, te) in enumerate(skf.split(xtr, ytr)):
                    print(f"bench-ml-paired: {name}: seed {seed} fold {k + 1}/{folds}", file=sys.stderr, flush=True)
                    a_tr, b_tr = [xtr[i] for i in tr], [ytr[i] for i in tr]
                    a_te, b_te = [xtr[i] for i in te], [ytr[i] for i in te]
                    o = wf1(b_te, ours(starter, work, a_tr, b_tr, a_te, b_te))
                    a = wf1(b_te, anchor(models, a_tr, b_tr, a_te))
                    fo.append(o)
                    fa.append(a)
                    diffs.append(o - a)
            mean, t, p = corrected_t(diffs, 1 / folds)
            r["cv"] = {"folds": folds, "seeds": seeds, "ours_wf1": sum(fo) / len(fo), "anchor_wf1": sum(fa) / len(fa),
                       "mean_diff": mean, "t": t, "p": p, "ours_better_folds": sum(d > 0 for d in diffs),
                       "anchor_better_folds": sum(d < 0 for d in diffs)}
            results[name] = r
    print(json.dumps(results), file=sys.stderr)
    hdr = ("data", "test wF1 ours / anchor", "rows only ours / only anchor right", "McNemar p",
           f"{folds}-fold CV x{len(seeds)} wF1 ours / anchor", "folds ours / anchor ahead", "mean diff", "corrected t-test p")
    print("| " + " | ".join(hdr) + " |")
    print("|" + "|".join(["---"] * len(hdr)) + "|")
    for name, r in results.items():
        te, cv = r["test"], r["cv"]
        print(f"| {name} | {te['ours_wf1']:.4f} / {te['anchor_wf1']:.4f} | {te['only_ours_right']} / {te['only_anchor_right']} "
              f"| {te['mcnemar_p']:.3f} | {cv['ours_wf1']:.4f} / {cv['anchor_wf1']:.4f} "
              f"| {cv['ours_better_folds']} / {cv['anchor_better_folds']} | {cv['mean_diff']:+.4f} | {cv['p']:.3f} |")


if __name__ == "__main__":
    main()
