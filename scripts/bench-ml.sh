#!/usr/bin/env bash
# bench-ml.sh: prodcat's ML core against the scikit-learn anchors, in the same
# run on the same machine. For each split (rakuten, fashion) it runs
# `starter offline --json` on the generic train.csv/test.csv and
# ../shared/bench/sklearn_baseline.py, then prints one table with both and the
# ratios: our fit time / sklearn word+char fit time, and the F1 deltas.
#
# With --paired it compares ours and the word+char anchor on identical rows
# instead (scripts/bench_ml_paired.py): row by row on the test split, with
# McNemar's test, and by repeated k-fold cross-validation on the training split,
# with a corrected resampled t-test. That takes several minutes.
#
# Environment: SPLITS (default ../shared/bench/splits), ANCHOR (default
# ../shared/bench/sklearn_baseline.py), NAMES (default "rakuten fashion"); for
# --paired also FOLDS (default 5) and SEEDS (default "1 2 3").
set -euo pipefail

root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
SPLITS=$(cd "${SPLITS:-$root/../shared/bench/splits}" && pwd)
ANCHOR=${ANCHOR:-$root/../shared/bench/sklearn_baseline.py}
NAMES=${NAMES:-rakuten fashion}
PY=/usr/bin/python3
paired=false
case "${1:-}" in
--paired) paired=true ;;
"") ;;
*) echo "usage: bench-ml.sh [--paired]" >&2; exit 2 ;;
esac

if ! "$PY" -c 'import sklearn' 2>/dev/null; then
	echo "bench-ml: installing Debian's python3-sklearn" >&2
	sudo=""
	if [ "$(id -u)" != 0 ]; then sudo=sudo; fi
	$sudo apt-get install -y python3-sklearn >&2 || { $sudo apt-get update >&2 && $sudo apt-get install -y python3-sklearn >&2; }
fi

work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
# Build once so compile time is not counted as training time.
go build -o "$work/starter" ./starter

if $paired; then
	"$PY" "$root/scripts/bench_ml_paired.py" "$work/starter" "$SPLITS" "$(dirname "$ANCHOR")" $NAMES
	exit
fi

for name in $NAMES; do
	echo "bench-ml: $name: prodcat" >&2
	"$work/starter" offline --json --log-level warn \
		--train "$SPLITS/$name/train.csv" --test "$SPLITS/$name/test.csv" \
		--text-col text --label-col label >"$work/$name.json"
	echo "bench-ml: $name: scikit-learn" >&2
	SPLITS="$SPLITS" "$PY" "$ANCHOR" "$name" >"$work/$name.sklearn"
done

"$PY" - "$work" $NAMES <<'PYEOF'
import json, re, sys
work, names = sys.argv[1], sys.argv[2:]
rows = []
for name in names:
    ours = json.load(open(f"{work}/{name}.json"))
    anchors = {}
    for line in open(f"{work}/{name}.sklearn"):
        f = line.split()
        kv = dict(re.findall(r"(\w+)=([\d.]+)", line))
        anchors[f[1]] = {k: float(v) for k, v in kv.items()}
    for model, a in anchors.items():
        rows.append((name, "sklearn " + model, a["wF1"], a["mF1"], a["acc"], a["fit_s"], a["predict_rows_per_s"], "", ""))
    best = max(a["wF1"] for a in anchors.values())
    wc = anchors.get("tfidf-word12+char25+linearsvc")
    ratio = f"{ours['train_seconds'] / wc['fit_s']:.3f}" if wc else "n/a"
    rows.append((name, "prodcat (default params)", ours["weighted_f1"], ours["macro_f1"], ours["accuracy"],
                 ours["train_seconds"], ours["predict_rows_per_second"], ratio, f"{ours['weighted_f1'] - best:+.4f}"))
    rows.append((name, f"  model {ours['model_bytes'] / 1e6:.1f} MB, peak RSS {ours['peak_rss_bytes'] / 2**20:.0f} MiB", None, None, None, None, None, "", ""))
hdr = ("data", "model", "wF1", "mF1", "acc", "fit s", "predict rows/s", "fit / sk w+c", "wF1 - best sk")
print("| " + " | ".join(hdr) + " |")
print("|" + "|".join(["---"] * len(hdr)) + "|")
for r in rows:
    if r[2] is None:
        print(f"| {r[0]} | {r[1]} |  |  |  |  |  |  |  |")
        continue
    print(f"| {r[0]} | {r[1]} | {r[2]:.4f} | {r[3]:.4f} | {r[4]:.4f} | {r[5]:.2f} | {r[6]:,.0f} | {r[7]} | {r[8]} |")
PYEOF
