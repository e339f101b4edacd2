#!/usr/bin/env bash
# Cross-checks core/analysis/tide.* against tidecv's own code on random cases (a development check, not part of
# the suite: tidecv is no Debian package and nothing is downloaded here).
#   scripts/tide-crosscheck/run.sh TIDECV_CHECKOUT [SEED...]
# TIDECV_CHECKOUT: a checkout of github.com/dbolya/tide (its tidecv/ folder is used as it is, except that its
# plotting module, which needs matplotlib/seaborn/pandas, is replaced by an empty one in a scratch copy).
# stubs/ stands in for the image and plotting imports tidecv makes but the box path never uses, and for
# pycocotools.mask.iou with maskApi.c's bbIou on [x, y, w, h] boxes. Debian's python3-numpy is needed.
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
src="${1:?give a tidecv checkout}"
shift
work="$(mktemp -d)"
trap 'rm -rf "$work"' EXIT
cp -r "$src/tidecv" "$work/"
printf 'class Plotter:\n    pass\ndef print_table(rows, title=None):\n    pass\n' > "$work/tidecv/plotting.py"
g++ -std=c++17 -O1 -I"$repo/core" "$here/driver.cpp" "$repo/core/analysis/tide.cpp" -o "$work/driver"
for seed in "${@:-1 2 3 4}"; do
  (cd "$work" && PYTHONPATH="$here/stubs:$work" /usr/bin/python3 "$here/oracle.py" "$seed" >/dev/null && ./driver)
done
