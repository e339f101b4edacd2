#!/usr/bin/env bash
# End-to-end: make-dataset, train, eval, detect, inspect, and clear one-line
# errors with a non-zero exit on bad input.
set -euo pipefail
RCNN="$1"
W="$2"
rm -rf "$W"
mkdir -p "$W"
cd "$W"
fail() { echo "FAIL: $*" >&2; exit 1; }

"$RCNN" make-dataset fashion --out data --train 6 --val 3 --test 2 --seed 3 >/dev/null
[ -f data/ImageSets/Main/train.txt ] || fail "no train split"
[ "$(wc -l < data/ImageSets/Main/val.txt)" = 3 ] || fail "val split size"

"$RCNN" train --config fast --dataset data --out runs --name t --iters 4 --device cpu \
  --set solver.batch_size=2 --set solver.eval_period=2 --set solver.log_period=1 > train.log
grep -q "completed" train.log || fail "train did not complete: $(cat train.log)"
[ -f runs/t/last.pt ] && [ -f runs/t/config.json ] && [ -f runs/t/metrics.jsonl ] || fail "run dir incomplete"
grep -q '"type":"eval"' runs/t/metrics.jsonl || fail "no eval line in metrics.jsonl"

"$RCNN" train --config fast --dataset data --out runs --name t --iters 6 --resume --device cpu > resume.log
grep -q "resumed" resume.log || fail "resume did not resume: $(cat resume.log)"

"$RCNN" eval --checkpoint runs/t/last.pt --dataset data --split val --json eval.json --device cpu > eval.log
grep -q "mAP" eval.log || fail "eval printed no table"
python3 -c "import json; j=json.load(open('eval.json')); assert 0 <= j['map50'] <= 1 and len(j['classes']) == 10" || fail "eval.json"
python3 -c "import json; c=json.load(open('eval.json'))['coco']; assert all(-1 <= c[k] <= 1 for k in ['AP','AP50','AP75','APs','APm','APl','AR1','AR10','AR100'])" || fail "eval.json has no coco summary"

"$RCNN" detect --checkpoint runs/t/last.pt data/JPEGImages --out det --score 0.0 --device cpu > det.log
[ -f det/detections.json ] || fail "no detections.json"
[ "$(ls det/*.png | wc -l)" = 11 ] || fail "annotated PNGs missing"

"$RCNN" inspect --dataset data --split val --index 1 --config fast --out trace.json > /dev/null
python3 -c "import json; t=json.load(open('trace.json')); assert len(t['levels']) == 3 and len(t['gt']) >= 1 and 'funnel' in t['gt'][0] and 'funnel_reason' in t['gt'][0]; assert all(d['outcome'] in ('tp', 'fp', 'ignored') for d in t['detections'])" || fail "trace.json"

"$RCNN" analyze --checkpoint runs/t/last.pt --dataset data --split val --json analyze.json > analyze.log
python3 - <<'PY' || fail "analyze.json"
import json
j = json.load(open("analyze.json"))
assert set(["funnel", "gts", "detections", "error_dap"]) <= set(j), j.keys()
assert sum(j["funnel"].values()) == len(j["gts"]) > 0
assert all(set(["image", "index", "class", "stage", "reason"]) <= set(g) for g in j["gts"])
assert all(set(["image", "score", "class", "outcome", "error_type"]) <= set(d) for d in j["detections"])
assert set(j["error_dap"]) == {"classification", "localization", "both", "duplicate", "background", "missed"}
assert set(j["error_dap_special"]) == {"false_positives", "false_negatives"}
t = j["tide"]
assert 0 <= t["ap50"] <= 100 and set(t["main"]) == {"cls", "loc", "both", "dupe", "bkg", "miss"}, t
assert set(t["special"]) == {"fp", "fn"} and all(v >= 0 for v in t["main"].values()), t
PY

# Another detector's detections (here rcnn detect's file): the same accounting without a model.
"$RCNN" detect --checkpoint runs/t/last.pt data/JPEGImages --out dets --score 0.05 > detect_for_analyze.log \
  || fail "detect: $(tail -3 detect_for_analyze.log)"
"$RCNN" analyze --detections dets/detections.json --dataset data --split val --json analyze_dets.json > analyze_dets.log \
  || fail "analyze --detections: $(tail -3 analyze_dets.log)"
python3 - <<'PY' || fail "analyze_dets.json"
import json
j = json.load(open("analyze_dets.json"))
assert "no model" in j["source"], j["source"]
stages = {g["stage"] for g in j["gts"]}
assert stages <= {"detected", "not detected (stage unavailable)", "ignored (difficult)"}, stages
assert 0 <= j["tide"]["ap50"] <= 100
PY
"$RCNN" analyze --dataset data --split val > /dev/null 2>analyze_none.err && fail "analyze without a model or detections succeeded"
grep -q "give --checkpoint" analyze_none.err || fail "analyze without a model: $(cat analyze_none.err)"

# The 6-iteration model against the bundled one: the same images, every key other tools read.
"$RCNN" compare --a runs/t/last.pt --b "$RCNN_RESOURCES/models/fashion_default.pt" --dataset data --split val \
  --device cpu --json compare.json > compare.log || fail "compare: $(tail -3 compare.log)"
grep -q "GTs A detects and B loses" compare.log || fail "compare printed no GT lists"
python3 - <<'PY' || fail "compare.json"
import json
j = json.load(open("compare.json"))
assert set(["map50", "classes", "found_by_a_only", "found_by_b_only", "transitions", "images"]) <= set(j), j.keys()
assert len(j["classes"]) == 10 and all(set(["class", "num_gt", "ap50_a", "ap50_b"]) <= set(c) for c in j["classes"])
d = [abs(i["detected_b"] - i["detected_a"]) + abs(i["fp_b"] - i["fp_a"]) for i in j["images"]]
assert d == sorted(d, reverse=True), d
assert all(set(["image", "class", "stage_a", "stage_b"]) <= set(g) for g in j["found_by_b_only"])
assert sum(sum(r.values()) for r in j["transitions"].values()) > 0
PY
python3 -c "import json; t=json.load(open('trace.json')); l=t['training']['losses']; assert set(l) == {'rpn_obj','rpn_box','roi_cls','roi_box'} and all(v >= 0 for v in l.values())" || fail "trace.json has no training step"

"$RCNN" anchors --dataset data --split train --config fast --json coverage.json --plots plots --suggest 2 \
  --max-anchors 3 --search-images 4 > anchors.log
python3 - <<'PY' || fail "anchors: coverage.json / plots"
import glob, json
import xml.etree.ElementTree as ET
j = json.load(open("coverage.json"))
assert 0 <= j["bpr"] <= 1 and 0 <= j["bpr_without_low_quality"] <= j["bpr"] and j["mean_positives"] >= 0
assert set(["by_level", "by_size", "gts", "suggestions"]) <= set(j)
assert j["num_gts"] == len(j["gts"]) > 0
assert all(set(["image", "index", "positives", "best_iou", "level", "reason"]) <= set(g) for g in j["gts"])
assert len(j["suggestions"]) == 2
for s in j["suggestions"]:
    assert set(["stride_scale", "scales_per_octave", "aspect_ratios"]) <= set(s["anchors"])
    assert 0 <= s["bpr"] <= 1 and 1 <= s["anchors_per_location"] <= 3
svgs = sorted(glob.glob("plots/*.svg"))
assert len(svgs) == 4, svgs
for f in svgs:
    assert ET.parse(f).getroot().tag.endswith("svg"), f
PY

# Errors: non-zero exit, one line naming the problem.
if "$RCNN" eval --checkpoint nope.pt --dataset data 2> err.txt; then fail "eval of a missing checkpoint succeeded"; fi
grep -q "nope.pt" err.txt || fail "error does not name the file: $(cat err.txt)"
[ "$(wc -l < err.txt)" = 1 ] || fail "error is not one line"
if "$RCNN" train --dataset data --out runs --name bad --set rpn.iou_lo=0.9 --iters 1 2> err2.txt; then fail "bad config accepted"; fi
grep -q "rpn.iou_lo" err2.txt || fail "config error does not name the field: $(cat err2.txt)"
# A torch.save file that is not a torchvision detector: one line naming the file and the missing key.
FIX="$(dirname "$0")/../serialize/fixtures"
IMG="$(ls data/JPEGImages/* | head -1)"
if "$RCNN" detect --config torchvision_resnet50_fpn --checkpoint "$FIX/state_dict.pth" "$IMG" --out tvdet 2> err3.txt; then
  fail "a non-detector state dict was accepted"; fi
grep -q "state_dict.pth: no roi_heads.box_predictor.cls_score.weight" err3.txt || fail "tv error: $(cat err3.txt)"
if "$RCNN" detect --config torchvision_nope --checkpoint "$FIX/state_dict.pth" "$IMG" --out tvdet 2> err4.txt; then
  fail "an unknown --config was accepted"; fi
grep -q "torchvision_nope" err4.txt || fail "config error does not name it: $(cat err4.txt)"
# The label doctor: a corrupted copy with its record, then label-issues' JSON in the documented shape.
"$RCNN" make-dataset fashion --out bad --train 6 --val 3 --test 0 --seed 3 \
  --corrupt missing=0.2,swap=0.2,badloc=0.2,spurious=0.2 > bad.log
grep -q "corrupted" bad.log || fail "make-dataset --corrupt said nothing: $(cat bad.log)"
python3 -c "import json; c=json.load(open('bad/corruptions.json'))['corruptions']; assert c and all(r['kind'] in ('missing','swapped','badloc','spurious','duplicate') for r in c)" || fail "corruptions.json"
cp -r bad/Annotations bad_annotations_before
"$RCNN" label-issues --checkpoint runs/t/last.pt --dataset bad --split train --min-score 0.0 --confident 0.0 \
  --json issues.json --device cpu > li.log
grep -q "issues:" li.log || fail "label-issues printed no summary: $(cat li.log)"
grep -q "was trained on this split" li.log && fail "warned about a model that never saw this dataset"
python3 - <<'PY' || fail "issues.json"
import json
j = json.load(open("issues.json"))
kinds = {"missing", "swapped", "badloc", "spurious", "duplicate"}
assert set(j) >= {"issues", "images"}, j.keys()
assert j["issues"], "no issues at all with --confident 0"
for i in j["issues"]:
    assert set(i) >= {"image", "kind", "score", "gt_index", "class", "box", "suggested_class", "suggested_box"}, i
    assert i["kind"] in kinds and 0 <= i["score"] <= 1
    if i["kind"] == "missing":
        assert i["gt_index"] is None and i["box"] is None and len(i["suggested_box"]) == 4
    else:
        assert isinstance(i["gt_index"], int) and len(i["box"]) == 4
ids = {l.strip() for l in open("bad/ImageSets/Main/train.txt")}
assert {m["image"] for m in j["images"]} == ids
PY
diff -r bad/Annotations bad_annotations_before > /dev/null || fail "label-issues changed the annotations"
# The run trained on data's train split: using it there is warned about.
"$RCNN" label-issues --checkpoint runs/t/last.pt --dataset data --split train --device cpu > li2.log 2>&1
grep -q "was trained on this split" li2.log || fail "no warning for an in-sample model: $(cat li2.log)"
if "$RCNN" label-issues --dataset data --split train 2> err5.txt; then fail "label-issues without a model ran"; fi
grep -q -- "--folds K" err5.txt || fail "label-issues error: $(cat err5.txt)"
# Explain a detection: a PNG and the map in the image's own pixels.
"$RCNN" explain --checkpoint runs/t/last.pt "$IMG" --target det:0 --score 0.0 --method inputgrad --out heat.png \
  --json heat.json --device cpu > ex.log || fail "explain: $(cat ex.log)"
[ -f heat.png ] || fail "explain wrote no PNG"
python3 -c "import json; e=json.load(open('heat.json')); assert set(e) >= {'target','method','width','height','map'}; assert len(e['map']) == e['height'] and all(len(r) == e['width'] for r in e['map']); assert set(e['target']) >= {'kind','index','class','score','box'}" || fail "heat.json"
if "$RCNN" explain --checkpoint runs/t/last.pt "$IMG" --target gt:0 --out x.png 2> err6.txt; then fail "gt:K without --dataset ran"; fi
grep -q -- "--dataset" err6.txt || fail "explain error: $(cat err6.txt)"
# A proposal's objectness on the backbone output under p4, by name.
"$RCNN" explain --checkpoint runs/t/last.pt "$IMG" --target proposal:0 --level c4 --out heat2.png --json heat2.json \
  --device cpu > ex2.log || fail "explain proposal: $(cat ex2.log)"
python3 -c "import json; e=json.load(open('heat2.json')); assert e['target']['kind'] == 'proposal' and e['target']['class'] == 'object' and e['level_name'] == 'c4', e['target']" || fail "heat2.json"
if "$RCNN" explain --checkpoint runs/t/last.pt "$IMG" --target proposal:0 --level q9 --out x.png 2> err7.txt; then fail "--level q9 ran"; fi
grep -q "p3, p4, p5" err7.txt || fail "explain --level error: $(cat err7.txt)"
# A capture of the trained run's model and of random weights; the diff of a capture with itself is empty.
"$RCNN" capture "$IMG" --checkpoint runs/t/last.pt --out a.rcnncap --device cpu > cap.log || fail "capture: $(cat cap.log)"
grep -q "wrote a.rcnncap" cap.log || fail "capture: $(cat cap.log)"
"$RCNN" capture "$IMG" --random-weights --out b.rcnncap --device cpu > cap2.log || fail "capture: $(cat cap2.log)"
"$RCNN" diff a.rcnncap a.rcnncap --json same.json > diff1.log || fail "diff: $(cat diff1.log)"
grep -q "no change" diff1.log || fail "diff of a capture with itself: $(cat diff1.log)"
python3 -c "import json; assert json.load(open('same.json'))['empty'] is True" || fail "same.json"
"$RCNN" diff a.rcnncap b.rcnncap --json ab.json > diff2.log || fail "diff: $(cat diff2.log)"
python3 -c "import json; j=json.load(open('ab.json')); assert j['empty'] is False and set(j) >= {'matching','sampling','proposals','rois','detections','gt'}" || fail "ab.json"
if "$RCNN" capture "$IMG" --out c.rcnncap 2> err8.txt; then fail "capture without a model ran"; fi
grep -q -- "--random-weights" err8.txt || fail "capture error: $(cat err8.txt)"
head -c 5000 a.rcnncap > cut.rcnncap
if "$RCNN" diff cut.rcnncap a.rcnncap 2> err9.txt; then fail "diff of a truncated capture ran"; fi
grep -q "cut.rcnncap: not a capture" err9.txt || fail "truncated capture error: $(cat err9.txt)"
echo "cli end-to-end OK"
