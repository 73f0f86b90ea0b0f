"""Behaviour unchanged? The same tiny runs of every method and its main switches — 2 epochs of 300 embedded digits —
recorded before and after a change, then compared: identical histories (every key but the timings), ACC and a sum of
every weight. Run it once with the library before the change (PYTHONPATH pointing at a checkout of it) and once after.

    PYTHONPATH=/path/to/old/checkout python tools/same_runs.py run before.json
    python tools/same_runs.py run after.json
    python tools/same_runs.py compare before.json after.json      # exit 1 and the differences when they differ
"""
import json, sys

TIMING = ('seconds', 'img_per_s', 'view_img_per_s', 'steady_img_per_s')
BASE = dict(dataset='digits', subset=300, epochs=2, backbone='convnet', preset='cpu', device='cpu', progress=False,
            report=False, batch_size=64)
STAGES = dict(icbpl=dict(finetune='all', bt_epochs=1), nncc=dict(pretrain_epochs=1))   # both stages in 2 epochs
SWITCHES = dict(bscic=[{}, dict(use_mi=False, use_si=False), dict(use_il=False)], cc=[{}],
                dcsc=[{}, dict(overcluster=0), dict(use_flc=False)], ghdcc=[{}, dict(graph='concat'), dict(predict='argmax')],
                icbpl=[{}, dict(use_mincos=False)], nncc=[{}, dict(use_finch=False)])

def record() -> dict:
    from deepclust_nb.learner import fit, method_names      # the path that answers before and after a module split
    out = {}
    for name in method_names():
        for sw in SWITCHES.get(name, [{}]):
            r = fit(name, out=False, **{**BASE, **STAGES.get(name, {}), **sw})
            key = name + ''.join(f' {k}={v}' for k, v in sw.items())
            out[key] = dict(history=[{k: v for k, v in h.items() if k not in TIMING} for h in r.history], acc=r.metrics.get('acc'),
                            weight_sum=float(sum(p.double().sum() for p in r.learn.method.state_dict().values() if p.is_floating_point())))
            print(key, out[key]['acc'], out[key]['weight_sum'], flush=True)
    return out

def compare(a:dict, b:dict) -> list:
    "Runs that differ between two records, with the first difference of each."
    bad = [f"{k}: only in one record" for k in sorted(set(a) ^ set(b))]
    for k in sorted(set(a) & set(b)):
        for f in ('acc', 'weight_sum'):
            if a[k][f] != b[k][f]: bad.append(f"{k}: {f} {a[k][f]} before, {b[k][f]} after")
        keys = sorted({kk for ra, rb in zip(a[k]['history'], b[k]['history']) for kk in set(ra) | set(rb) if ra.get(kk) != rb.get(kk)})
        if keys or len(a[k]['history']) != len(b[k]['history']): bad.append(f"{k}: history differs in {', '.join(keys) or 'its length'}")
    return bad

if __name__ == '__main__':
    if len(sys.argv) == 3 and sys.argv[1] == 'run':
        json.dump(record(), open(sys.argv[2], 'w'), indent=1)
    elif len(sys.argv) == 4 and sys.argv[1] == 'compare':
        bad = compare(json.load(open(sys.argv[2])), json.load(open(sys.argv[3])))
        print('\n'.join(bad) if bad else f"identical: {len(json.load(open(sys.argv[2])))} runs")
        sys.exit(1 if bad else 0)
    else: sys.exit(__doc__)
