# SPDX-License-Identifier: MIT
"""Reference stats for a list of {name, gt, dt, sigmas?} cases from pycocotools, run unmodified.

Usage: python3 pycocotools_oracle.py CASES.json OUT.json
An empty dt list cannot go through loadRes (it raises IndexError on anns[0]); for those the results
COCO object is built directly with no annotations, which is what COCOeval then evaluates.
A development tool only: no test runs Python.
"""
import contextlib
import copy
import io
import json
import sys

import numpy as np
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

cases = json.load(open(sys.argv[1]))
out = []
for c in cases:
    with contextlib.redirect_stdout(io.StringIO()):
        gt = COCO()
        gt.dataset = copy.deepcopy(c['gt'])
        gt.createIndex()
        dts = copy.deepcopy(c['dt'])
        if len(dts) == 0:
            res = COCO()
            res.dataset = {'images': list(gt.dataset['images']),
                           'categories': copy.deepcopy(gt.dataset['categories']), 'annotations': []}
            res.createIndex()
        else:
            res = gt.loadRes(dts)
        ev = COCOeval(gt, res, 'keypoints')
        if 'sigmas' in c:
            ev.params.kpt_oks_sigmas = np.array(c['sigmas'])
        ev.evaluate()
        ev.accumulate()
        ev.summarize()
    out.append({'name': c.get('name'), 'stats': [float(x) for x in ev.stats]})
json.dump(out, open(sys.argv[2], 'w'))
