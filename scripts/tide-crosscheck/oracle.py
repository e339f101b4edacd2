# Random cases through tidecv's own code (stubbed image/plot imports only); writes cases.json and expected.json.
import json, random, sys
from tidecv import TIDE, Data
from tidecv.errors.main_errors import *
random.seed(int(sys.argv[1]) if len(sys.argv) > 1 else 0)
cases, expected = [], []
for c in range(300):
    n_img = random.randint(1, 6); C = random.randint(1, 3)
    gt = Data('gt'); pr = Data('pred')
    case = []
    for i in range(n_img):
        gts, dets = [], []
        for _ in range(random.randint(0, 4)):
            x, y = random.randint(0, 40), random.randint(0, 40); w, h = random.randint(2, 30), random.randint(2, 30)
            ign = random.random() < 0.15
            cl = random.randrange(C)
            gts.append([x, y, x + w, y + h, cl, ign])
            if ign: gt.add_ignore_region(i, cl, [x, y, w, h])
            else: gt.add_ground_truth(i, cl, [x, y, w, h])
        if not gts:
            gt._make_default_image(i)  # an image with no GT still walked
        for _ in range(random.randint(0, 6)):
            if gts and random.random() < 0.6:
                g = random.choice(gts); x, y = g[0] + random.randint(-6, 6), g[1] + random.randint(-6, 6)
                w, h = max(1, g[2] - g[0] + random.randint(-8, 8)), max(1, g[3] - g[1] + random.randint(-8, 8))
            else:
                x, y = random.randint(0, 40), random.randint(0, 40); w, h = random.randint(2, 30), random.randint(2, 30)
            cl = random.randrange(C); s = random.choice([0.1, 0.3, 0.5, 0.7, 0.9, round(random.random(), 3)])
            dets.append([x, y, x + w, y + h, cl, s]); pr.add_detection(i, cl, s, [x, y, w, h])
        case.append({'gts': gts, 'dets': dets})
    try:
        t = TIDE(); run = t.evaluate(gt, pr, mode=TIDE.BOX)
        main = run.fix_main_errors(); special = run.fix_special_errors(); counts = run.count_errors()
    except ZeroDivisionError:
        continue
    cases.append(case)
    expected.append({'ap50': run.ap,
        'main': {k.short_name: v for k, v in main.items()},
        'special': {k.short_name: v for k, v in special.items()},
        'counts': {k.short_name: v for k, v in counts.items()}})
json.dump(cases, open('cases.json', 'w')); json.dump(expected, open('expected.json', 'w'))
print(len(cases), 'cases')
