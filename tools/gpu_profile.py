"""Where a method's training time goes: `fit` of one method under `torch.profiler`, the operators ranked by their own
device time (CPU time on a CPU), printed and written to OUT/profile-<method>.json. Runs like tools/gpu_slice.sh: from
the repository root with PYTHONPATH=.:.carry/site and DEEPCLUST_DATA=.carry/data on an image without this project
installed.

    python tools/gpu_profile.py icbpl --subset 2000 --epochs 2 --param bt_epochs=1          # on the device
    python tools/gpu_profile.py dcsc --dataset digits --device cpu --epochs 1 --param backbone=convnet_s   # the CPU check
"""
from __future__ import annotations
import argparse, json, os, shlex, sys, tempfile, time
from pathlib import Path

def _value(s:str):
    try: return json.loads(s)
    except json.JSONDecodeError: return s

def profile(method, dataset='cifar10', subset=None, epochs=1, device='cuda', preset='paper', params=None, rows=25):
    "Fit `method` once under the profiler: (metrics, rows of the operator table ranked by own device or CPU time)."
    import torch
    from torch.profiler import profile as tprofile, ProfilerActivity
    from deepclust_nb.learner import fit
    cuda = device.startswith('cuda')
    if cuda: torch.backends.cudnn.benchmark = True
    acts = [ProfilerActivity.CPU] + ([ProfilerActivity.CUDA] if cuda else [])
    kw = dict(params or {}); kw.update(subset=subset) if subset else None
    with tempfile.TemporaryDirectory() as work, tprofile(activities=acts) as prof:
        t = time.time()
        r = fit(method, out=Path(work)/method, dataset=dataset, epochs=epochs, preset=preset, device=device,
                report=False, progress=False, seed=0, **kw)
        if cuda: torch.cuda.synchronize()
        wall = time.time() - t
    key = 'self_device_time_total' if cuda else 'self_cpu_time_total'
    ev = sorted(prof.key_averages(), key=lambda e: getattr(e, key, 0) or 0, reverse=True)
    total = sum(getattr(e, key, 0) or 0 for e in ev) or 1
    table = [dict(op=e.key, calls=e.count, self_s=(getattr(e, key, 0) or 0) / 1e6,
                  share=(getattr(e, key, 0) or 0) / total, cpu_total_s=e.cpu_time_total / 1e6) for e in ev[:rows]]
    m = {k: v for k, v in r.metrics.items() if k not in ('curve', 'run_dir')}
    return dict(method=method, dataset=dataset, subset=subset, epochs=epochs, device=device, params=kw, wall_s=wall,
                ranked_by=key, total_self_s=total / 1e6, metrics=m, ops=table)

def main(argv=None):
    ap = argparse.ArgumentParser(prog='gpu_profile', description=__doc__.split('\n\n')[0])
    ap.add_argument('method'); ap.add_argument('--dataset', default='cifar10'); ap.add_argument('--subset', type=int)
    ap.add_argument('--epochs', type=int, default=1); ap.add_argument('--device', default='cuda')
    ap.add_argument('--preset', default='paper'); ap.add_argument('--rows', type=int, default=25)
    ap.add_argument('--param', action='append', default=[], help='KEY=VALUE, an override of the preset (repeatable)')
    ap.add_argument('--out', default=os.environ.get('OUT') or 'gpu-profile-out')
    a = ap.parse_args(argv)
    params = {k: _value(v) for k, v in (p.split('=', 1) for p in a.param)}
    res = profile(a.method, a.dataset, a.subset, a.epochs, a.device, a.preset, params, a.rows)
    res['command'] = ' '.join(shlex.quote(x) for x in sys.argv)
    out = Path(a.out); out.mkdir(parents=True, exist_ok=True)
    tmp = out/f'.profile-{a.method}.json.tmp'; tmp.write_text(json.dumps(res, indent=1)); os.replace(tmp, out/f'profile-{a.method}.json')
    print(f"{a.method}: {res['wall_s']:.1f} s wall, {res['total_self_s']:.1f} s of {res['ranked_by']}, "
          f"ACC {res['metrics'].get('acc', float('nan')):.3f} after {res['metrics'].get('epochs')} epochs")
    for o in res['ops']: print(f"  {100*o['share']:5.1f}%  {o['self_s']:8.3f} s  {o['calls']:7d}  {o['op'][:90]}")
    return 0

if __name__ == '__main__': sys.exit(main())
