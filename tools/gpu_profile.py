"""Where a method's training time goes: `fit` of one method under `torch.profiler`, the operators ranked by their own
device time (CPU time on a CPU), and on CUDA the kernels too, each as a share of the kernels' total device time (each
kernel counted once), printed and written to OUT/profile-<method>.json. Runs like tools/gpu_slice.sh: from
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
    from deepclust_nb.runs import fit
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
    # On CUDA the ranking is of device time, and the total is the kernels' own time alone (events on the device: kernels,
    # copies, memsets): an operator's self device time is the time of the kernels it launched, so adding operators and
    # kernels would count each kernel twice. Operators' shares are of that total too (the kernels each one launched).
    from torch.autograd import DeviceType
    ev = list(prof.key_averages())
    key = 'self_device_time_total' if cuda else 'self_cpu_time_total'
    t = lambda e: getattr(e, key, 0) or 0
    on_device = [e for e in ev if cuda and e.device_type == DeviceType.CUDA]
    ops = sorted((e for e in ev if e.device_type != DeviceType.CUDA), key=t, reverse=True)
    total = sum(t(e) for e in (on_device if cuda else ops)) or 1
    row = lambda e: dict(op=e.key, calls=e.count, self_s=t(e) / 1e6, share=t(e) / total, cpu_total_s=e.cpu_time_total / 1e6)
    table = [row(e) for e in ops[:rows]]
    kernels = [row(e) for e in sorted(on_device, key=t, reverse=True)[:rows]]
    m = {k: v for k, v in r.metrics.items() if k not in ('curve', 'run_dir')}
    return dict(method=method, dataset=dataset, subset=subset, epochs=epochs, device=device, params=kw, wall_s=wall,
                ranked_by=key, total_self_s=total / 1e6,
                total_is='kernels on the device (each counted once)' if cuda else 'operators own CPU time',
                metrics=m, ops=table, **(dict(kernels=kernels) if cuda else {}))

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
    for title in ('ops', 'kernels'):
        if title not in res: continue
        print(f"  {title} (shares of {res['total_is']}):")
        for o in res[title]: print(f"  {100*o['share']:5.1f}%  {o['self_s']:8.3f} s  {o['calls']:7d}  {o['op'][:90]}")
    return 0

if __name__ == '__main__': sys.exit(main())
