# pycocotools.mask.iou for boxes only ([x, y, w, h]), as maskApi.c's bbIou.
import numpy as np
def iou(dt, gt, iscrowd):
    m, n = len(dt), len(gt)
    o = np.zeros((m, n))
    for g in range(n):
        G = gt[g]; ga = G[2] * G[3]; c = iscrowd[g]
        for d in range(m):
            D = dt[d]; da = D[2] * D[3]
            w = min(D[2] + D[0], G[2] + G[0]) - max(D[0], G[0])
            if w <= 0: continue
            h = min(D[3] + D[1], G[3] + G[1]) - max(D[1], G[1])
            if h <= 0: continue
            i = w * h
            u = da if c else da + ga - i
            o[d, g] = i / u
    if m == 0 or n == 0: return []
    return o
