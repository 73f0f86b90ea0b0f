"""The next GPU run, prepared: CC and DCSC at their paper presets on all of CIFAR-10 for about 3.5 minutes each, and
BSC-IC's step time with and without its CUDA graph, in one call. It measures what the GPU step changes (no read-back
inside a step, fused optimisers, cuDNN autotuning and TF32 set by `fit`, the graphed BSC-IC step) on a card.

Criteria, stated before the run (the `criteria` block of step.json checks each where the data allow):
  1. ACC rises with epochs: each run's last evaluated ACC is above its first.
  2. All clusters are used: 10 clusters in the final assignment of each run.
  3. DCSC >= CC at equal epochs in most epochs (on the fixed 10,000-image evaluation sample, every epoch).
  4. Throughput within 10% of the slice on the same card: steady-state images/s of CC and DCSC against results/gpu
     (measured on an H200; the check is made only when the card's name matches, else reported as not comparable).
  5. BSC-IC: the graphed step is faster than the plain one, its losses are finite, and replays draw new views (the
     loss differs from replay to replay).

Runs (both with their paper preset; the one override, named in the results: image_size=32, CIFAR-10's own size):
  CC   paper preset (ResNet-34, batch 256), image_size=32, time_budget 200 s, eval every epoch, seed 0
  DCSC paper preset (ResNet-34, batch 256, 70-cluster head), image_size=32, time_budget 200 s, eval every epoch, seed 0
  BSC-IC paper preset (ResNet-18, batch 64, all four terms) on 6,400 CIFAR-10 images: 10 warm-up then 100 timed steps
         plain, then 100 timed replays of the graphed step (`cuda_graph`) after its warm-up and capture

Command time by estimate (H100 or H200): CIFAR-10 decode ~40 s (0 s on a warm rerun: gpu-slice-cache/), CC and DCSC
2 x (200 s + the epoch that crosses the budget, ~10-20 s, + an evaluation per epoch, ~2 s each) ~ 470 s, BSC-IC
~ 2 x (10 + 100) steps at 10-25 ms ~ 5 s plus a capture ~ 5 s: about 8.5 minutes; run with timeout_s=570.

    python tools/gpu_slice.py prepare        # here, once: the same carried folder as the slice (.carry, git-ignored)
    run(command="OUT=$OUT bash tools/gpu_step.sh", carry=[".carry"], timeout_s=570)
    python tools/gpu_step.py package OUT_DIR  # here: results/gpu/step/ (step.json, log, the criteria)
CPU check (the test suite): bash tools/gpu_step.sh --device cpu --subset 1000 --budget 2 --quick
"""
from __future__ import annotations
import argparse, json, os, shutil, sys, tempfile, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT/'tools'))
from gpu_slice import log, bare_loop, QUICK, start_record, load_cifar   # the slice's log, record, data, bare loop, quick networks

def step_times(device, quick:bool, steps:int, warmup:int=10, n:int=6400) -> dict:
    "BSC-IC's paper-preset step on CIFAR-10 at 32 px, plain and graphed (`GraphedStep`): ms per step after warm-up."
    import torch
    from deepclust_nb.runs import ready_learner
    from deepclust_nb.loop import GraphedStep, forward_backward
    sync = (lambda: torch.cuda.synchronize()) if device.type == 'cuda' else (lambda: None)
    out = {}
    for mode in ('plain', 'graphed'):
        learn = ready_learner('bscic', 0, dataset='cifar10', split='all', subset=n, preset='paper', device=str(device),
                              cuda_graph=mode == 'graphed', seed=0, **(QUICK if quick else {}))
        m, batches = learn.method, learn.batches(0)
        if mode == 'graphed': learn.graphed = GraphedStep(learn)
        def one(j):
            if learn.graphed is not None: return learn.graphed(batches[j % len(batches)], check=False)
            t = forward_backward(learn, batches[j % len(batches)], check=False)
            learn.opt.step(); m.after_step(learn); learn.pending.clear()
            return t
        losses = []
        for j in range(warmup): one(j)
        sync(); t0 = time.time()
        for j in range(warmup, warmup + steps): losses.append(one(j)['loss'].detach().float())
        sync(); dt = time.time() - t0
        learn.pending.clear()
        ls = torch.stack(losses).cpu()
        out[mode] = dict(ms_per_step=1000 * dt / steps, steps=steps, warmup=warmup, batch=len(batches[0]),
                         finite=bool(torch.isfinite(ls).all()), distinct_losses=int(ls.unique().numel()),
                         loss_first=float(ls[0]), loss_last=float(ls[-1]))
        log(f"bscic {mode}: {out[mode]['ms_per_step']:.2f} ms/step over {steps} steps (batch {out[mode]['batch']}), "
            f"losses finite {out[mode]['finite']}, {out[mode]['distinct_losses']} distinct")
    out['speedup'] = out['plain']['ms_per_step'] / max(out['graphed']['ms_per_step'], 1e-9)
    return out

def criteria(res:dict, slice_dir:Path=ROOT/'results'/'gpu') -> dict:
    "Each stated criterion: True, False, or None where the data do not allow the check."
    runs = {r['method']: r for r in res.get('runs', [])}
    out = {}
    for name, r in runs.items():
        acc = [a for _, _, a in r.get('curve', [])]
        out[f'{name}_acc_rises'] = len(acc) >= 2 and acc[-1] > acc[0]
        out[f'{name}_all_clusters'] = r.get('n_clusters_used') == r.get('n_clusters')
        ref = slice_dir/f'{name}-cifar10.json'
        if ref.exists() and res.get('gpu'):
            s = json.loads(ref.read_text())
            same = s.get('slice', {}).get('gpu') == res['gpu']
            new = r.get('throughput', {}).get('steady_img_per_s') or r.get('throughput', {}).get('img_per_s')
            old = s.get('throughput', {}).get('img_per_s')
            out[f'{name}_throughput_vs_slice'] = (new / old if same and new and old else None)
            out[f'{name}_throughput_within_10pct'] = (abs(new / old - 1) <= 0.10 if same and new and old else None)
    if 'cc' in runs and 'dcsc' in runs:
        c = {e: a for _, e, a in runs['cc'].get('curve', [])}
        d = {e: a for _, e, a in runs['dcsc'].get('curve', [])}
        both = sorted(set(c) & set(d))
        out['dcsc_ge_cc_epochs'] = f"{sum(d[e] >= c[e] for e in both)} of {len(both)}"
        out['dcsc_ge_cc_in_most'] = bool(both) and sum(d[e] >= c[e] for e in both) > len(both) / 2
    st = res.get('bscic_step')
    if st:
        out['bscic_graph_faster'] = st['speedup'] > 1
        out['bscic_graph_finite'] = st['graphed']['finite']
        out['bscic_graph_new_views'] = st['graphed']['distinct_losses'] > 1
    return out

def run(out:Path, device:str, subset:int|None, budget:float, quick:bool, steps:int):
    out.mkdir(parents=True, exist_ok=True)
    from deepclust_nb.core import get_device
    from deepclust_nb.runs import fit
    dev = get_device(device)
    res, save, t0 = start_record(out, dev, 'step', subset=subset, budget_s=budget, quick=quick)
    load_cifar(res, subset)                  # decoded once here (timed); each fit below reads the cached tensors
    try:   # BSC-IC first: seconds, and the measurement the CUDA graph was made for
        res['bscic_step'] = step_times(dev, quick, steps, warmup=10 if dev.type == 'cuda' else 2,
                                       n=6400 if dev.type == 'cuda' else min(subset or 6400, 256))
    except Exception as e: res['errors'].append(f"bscic step: {e!r}"); log(traceback.format_exc())
    save()
    try:
        if dev.type == 'cuda': res['bare_loop'] = bare_loop(dev, 'resnet34', 32, 'all', None, steps=30, batch=256)
        else: res['bare_loop'] = bare_loop(dev, 'resnet34', 16, 'all', None, steps=1, batch=4, warmup=1)
        log(f"bare loop resnet34 at 32 px, batch 256: {res['bare_loop']['img_per_s']:.0f} img/s")
    except Exception as e: res['errors'].append(f"bare loop: {e!r}"); log(traceback.format_exc())
    save()
    work = Path(tempfile.mkdtemp(prefix='gpu-step-'))
    for name in ('cc', 'dcsc'):
        p = dict(image_size=32, **(QUICK if quick else {}))
        if subset is not None: p['subset'] = subset
        t = time.time()
        try:
            r = fit(name, out=work/name, dataset='cifar10', split='all', epochs=10_000, time_budget=budget, preset='paper',
                    eval_every=1, device=str(dev), report=False, progress=False, seed=0, **p)
            m = dict(r.metrics); m['wall_s'] = time.time() - t; m['budget_s'] = budget
            m['overrides'] = dict(p, epochs=f'as many as fit in {budget:.0f} s')
            m['epoch_throughput'] = [{k: h.get(k) for k in ('epoch', 'seconds', 'img_per_s', 'steady_img_per_s', 'acc', 'n_clusters_used')}
                                     for h in r.history]
            res['runs'].append(m)
            tp = m.get('throughput', {})
            log(f"{name}: ACC {m.get('acc', float('nan')):.3f} after {m['epochs']} epochs, {tp.get('img_per_s', 0):.0f} img/s, "
                f"steady {tp.get('steady_img_per_s', 0):.0f} img/s")
        except Exception as e: res['errors'].append(f"{name}: {e!r}"); log(traceback.format_exc())
        save()
    shutil.rmtree(work, ignore_errors=True)
    res['criteria'] = criteria(res)
    log(f"criteria: {json.dumps(res['criteria'])}")
    save()
    log(f"done in {time.time()-t0:.0f} s; {len(res['runs'])} runs, {len(res['errors'])} errors → {out/'step.json'}")
    return res

def package(src:Path, dest:Path):
    "Copy step.json and the log into `dest` (results/gpu/step), with the criteria re-checked here."
    f = src/'step.json' if src.is_dir() else src
    res = json.loads(f.read_text())
    res['criteria'] = criteria(res)
    dest.mkdir(parents=True, exist_ok=True)
    (dest/'step.json').write_text(json.dumps(res, indent=1) + '\n')
    if (f.parent/'step.log').exists(): shutil.copy2(f.parent/'step.log', dest/'step.log')
    print(dest/'step.json')

def main(argv=None):
    ap = argparse.ArgumentParser(prog='gpu_step', description=__doc__.split('\n\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    ru = sub.add_parser('run', help='the runs, writing step.json and a log under --out')
    ru.add_argument('--out', default=os.environ.get('OUT') or 'gpu-step-out', help='output folder (default: $OUT)')
    ru.add_argument('--device', default='cuda', help='cuda (default) or cpu')
    ru.add_argument('--subset', type=int, default=None, help='train on this many images (default: all 60,000)')
    ru.add_argument('--budget', type=float, default=200., help='training seconds of CC and of DCSC (default 200)')
    ru.add_argument('--steps', type=int, default=100, help="timed BSC-IC steps in each mode (default 100)")
    ru.add_argument('--quick', action='store_true', help='the small ConvNet everywhere (the CPU test)')
    pk = sub.add_parser('package', help='results/gpu/step from the fetched $OUT')
    pk.add_argument('src'); pk.add_argument('--dest', default=str(ROOT/'results'/'gpu'/'step'))
    a = ap.parse_args(argv)
    if a.cmd == 'run':
        res = run(Path(a.out), a.device, a.subset, a.budget, a.quick, a.steps)
        return 1 if res['errors'] else 0
    package(Path(a.src), Path(a.dest)); return 0

if __name__ == '__main__': sys.exit(main())
