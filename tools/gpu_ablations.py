"""Runs of the ablation plan (`deepclust reproduce ablations`) on one GPU, many at a time, with the protocol of the
plan's CPU runs: the same preset, epochs, data and seeds, the same training cell as the method notebook
(`notebook_fit`), in fp32 (amp off, TF32 off), so a row made here stands beside the rows made on CPU cores. The
plan's `device: cpu` becomes cuda; nothing else changes. Each run also records the command that makes it on a CPU
(`cpu_command`: the plan's own, through papermill).

Device checks: runs the plan already holds from CPU cores, made again here with the same seeds, so that a reader can
see whether rows from the two devices can be set side by side. They are written to results/gpu/ablation-checks.json,
a file the report does not read as result rows, so a check never adds seeds to a table.

    python tools/gpu_ablations.py prepare [--carry .carry]     # here, once: the MNIST and Fashion-MNIST test files
    bash tools/gpu_ablations.sh [--jobs 12]                     # there (PYTHONPATH=., DEEPCLUST_DATA=.carry/data)
    python tools/gpu_ablations.py package OUT_DIR               # here: plan rows into results/ablations/<method>/,
                                                                # checks into results/gpu/ablation-checks.json

`run` makes, in this order: the plan's runs without a result file under results/ablations (or `--only NAMES`), NNCC's
first (the longest), then the checks (`--checks NAMES`; default: BSC-IC's full row on MNIST and NNCC's T = 9 row on
Fashion-MNIST, 3 seeds each), `--jobs` at a time, each in its own process. It starts no run that would end after `--limit`
seconds by the longest run of its method so far (of any method before its own has run), so that what has finished
comes back inside the device call's limit; `ablations.json` in OUT is rewritten (atomically) after every run.
Measured on one H200 (the 21 runs then missing, BSC-IC's Fashion-MNIST table and NNCC's T = 9 on MNIST, and the 6
default checks, 12 at a time): 311 s of command time; a BSC-IC run took 115-143 s, an NNCC run 64-151 s.
On a CPU, `--device cpu --epochs 1 --subset 200 --jobs 2` runs the same steps in about a minute
(tests/test_gpu_ablations.py, which then packages into a temporary folder).
"""
from __future__ import annotations
import argparse, json, os, shlex, shutil, subprocess, sys, time
from concurrent.futures import ThreadPoolExecutor, as_completed
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
DATA_FILES = {'mnist': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz'),
              'fashion-mnist': ('t10k-images-idx3-ubyte.gz', 't10k-labels-idx1-ubyte.gz')}
CHECKS = [f'bscic-mnist-full-s{s}' for s in range(3)] + [f'nncc-fashion_mnist-views-full-s{s}' for s in range(3)]
FP32 = dict(amp=False)        # plus TF32 off in the run's process (`one`)

def log(*a): print(time.strftime('%H:%M:%S'), *a, flush=True)

def atomic_json(path:Path, obj):
    from deepclust_nb.core import atomic_save_json       # the library's atomic write (it makes the folder)
    atomic_save_json(path, obj, indent=1)

def prepare(carry:Path, data_root:Path):
    "Copy the MNIST and Fashion-MNIST test files into the carried folder."
    for folder, names in DATA_FILES.items():
        (carry/'data'/folder).mkdir(parents=True, exist_ok=True)
        for n in names:
            src = data_root/folder/n
            if not src.exists(): sys.exit(f"gpu_ablations: {src} not found: pass --data-root (the folder holding {folder}/)")
            shutil.copy2(src, carry/'data'/folder/n)
    size = sum(p.stat().st_size for p in (carry/'data').rglob('*') if p.is_file())
    log(f"carried data {carry/'data'}: {size/2**20:.1f} MiB")

def plan_runs(plan_name='ablations') -> dict:
    from deepclust_nb.plan import load_plan, expand_plan
    plan = load_plan(plan_name)
    return plan, {r.name: r for r in expand_plan(plan)}

def todo_names(runs:dict, results:Path) -> list:
    "The plan's runs without a result file under `results`, in the plan's order."
    return [n for n, r in runs.items() if not (results/r.method/f'{n}.json').exists()]

def one(name:str, folder:Path, device:str, epochs, subset, plan_name:str):
    "Make run `name` of the plan in this process (fp32) and print its metrics as the last line."
    import torch
    torch.backends.cuda.matmul.allow_tf32 = False; torch.backends.cudnn.allow_tf32 = False
    from deepclust_nb.checks import notebook_fit
    from deepclust_nb.plan import finish_run
    plan, runs = plan_runs(plan_name)
    r = runs[name]
    extra = {**r.params, **FP32, **({'epochs': epochs} if epochs else {}), **({'subset': subset} if subset else {})}
    notebook_fit(r.method, str(folder), extra, dataset=r.dataset, seed=r.seed, device=device)
    m = finish_run(plan, r, folder)
    print('METRICS ' + json.dumps(m), flush=True)

def _child(name, folder, device, epochs, subset, plan_name, threads) -> dict:
    env = {**os.environ, 'OMP_NUM_THREADS': str(threads), 'MKL_NUM_THREADS': str(threads)}
    cmd = [sys.executable, str(Path(__file__).resolve()), 'one', name, '--folder', str(folder), '--device', device,
           '--plan', plan_name, *(['--epochs', str(epochs)] if epochs else []), *(['--subset', str(subset)] if subset else [])]
    t0 = time.time()
    p = subprocess.run(cmd, env=env, capture_output=True, text=True)
    (folder.parent/f'{name}.log').write_text(p.stdout + p.stderr)
    lines = [l for l in p.stdout.splitlines() if l.startswith('METRICS ')]
    if p.returncode == 0 and lines: return json.loads(lines[-1][len('METRICS '):])
    return dict(error=(p.stderr.strip().splitlines() or [f'exit {p.returncode}'])[-1][:500], seconds=time.time() - t0)

def run(out:Path, runs_dir:Path, device:str, jobs:int, limit:float, only, checks, epochs, subset, plan_name, results:Path):
    import torch
    from deepclust_nb.core import versions
    from deepclust_nb.data import load_dataset
    t0 = time.time()
    out.mkdir(parents=True, exist_ok=True); runs_dir.mkdir(parents=True, exist_ok=True)
    plan, runs = plan_runs(plan_name)
    rows = list(only) if only else todo_names(runs, results)
    rows = sorted(rows, key=lambda n: runs[n].method != 'nncc')    # NNCC's T = 9 runs are the longest: first
    names = [*rows, *[c for c in checks if c not in rows]]
    unknown = [n for n in names if n not in runs]
    if unknown: sys.exit(f"gpu_ablations: the plan {plan_name} has no run {', '.join(unknown)} (deepclust reproduce {plan_name} --list)")
    res = dict(command=' '.join(['bash tools/gpu_ablations.sh', *map(shlex.quote, sys.argv[2:])]), device=device,
               versions=versions(), plan=plan_name, precision='fp32 (amp off, TF32 off)', jobs=jobs,
               rows=rows, checks=[c for c in checks if c not in rows], runs={}, started=time.strftime('%Y-%m-%dT%H:%M:%S'),
               script_check=dict(epochs=epochs, subset=subset) if (epochs or subset) else None)
    if device.startswith('cuda'): res['gpu'] = torch.cuda.get_device_name(0)
    save = lambda: atomic_json(out/'ablations.json', {**res, 'seconds': round(time.time() - t0, 1)})
    save()
    for ds, split in sorted({(runs[n].dataset, runs[n].params.get('split', 'all')) for n in names}):   # decode once, before
        d = load_dataset(ds, split=split); log(f"{ds} ({split}): {len(d.x)} images")                    # the runs share the cache
    threads = max(1, (os.cpu_count() or 1) // jobs)
    log(f"{len(rows)} plan runs + {len(res['checks'])} checks, {jobs} at a time, {threads} thread(s) each, on {res.get('gpu', device)}")
    started = {}
    with ThreadPoolExecutor(jobs) as ex:
        futs = {}
        took = {}                                            # method -> longest run so far (s)
        def submit(n):
            el, m = time.time() - t0, runs[n].method
            est = 1.15 * took.get(m, max(took.values(), default=0))   # before any run ends: the first wave starts
            if el + est > limit: return
            started[n] = time.time(); futs[ex.submit(_child, n, runs_dir/n, device, epochs, subset, plan_name, threads)] = n
        queue = list(names)
        for n in queue[:jobs]: submit(n)
        queue = queue[jobs:]
        while futs:
            f = next(as_completed(futs)); n = futs.pop(f)
            m = f.result(); m['run_seconds'] = round(time.time() - started[n], 1)
            res['runs'][n] = m; save()
            if 'acc' in m: took[runs[n].method] = max(took.get(runs[n].method, 0), m['run_seconds'])
            log(f"{n}: " + (f"ACC {m['acc']:.3f}, {m['run_seconds']:.0f} s" if 'acc' in m else f"FAILED {m['error']}"))
            while queue and len(futs) < jobs:
                k = queue.pop(0); submit(k)
    res['not_started'] = [n for n in names if n not in started]
    save()
    log(f"done: {sum('acc' in m for m in res['runs'].values())} finished, {len(res['not_started'])} not started, "
        f"{time.time() - t0:.0f} s")

def package(src:Path, results:Path, checks_file:Path):
    "Plan rows into results/<method>/<run>.json (with the GPU command), checks into one file the report does not read."
    res = json.loads((src/'ablations.json').read_text())
    if res.get('script_check') and Path(results).resolve() == (ROOT/'results'/'ablations').resolve():
        sys.exit(f"gpu_ablations: {src} holds a check of the script ({res['script_check']} instead of the plan's values), "
                 "not result rows: package it with --results into another folder")
    kept, checks = [], {}
    for n, m in res['runs'].items():
        if 'acc' not in m: log(f"{n}: not packaged ({m.get('error')})"); continue
        m = dict(m)
        m['cpu_command'] = m['command']                       # the plan's own command: the same row on CPU cores
        m['command'] = f"bash tools/gpu_ablations.sh --only {n}"
        m['gpu_run'] = dict(command=res['command'], gpu=res.get('gpu'), versions=res['versions'], precision=res['precision'],
                            jobs=res['jobs'], run_seconds=m.pop('run_seconds', None))
        m.pop('run_dir', None)
        if n in res['rows']:
            p = results/m['method']/f'{n}.json'
            if p.exists(): log(f"{n}: {p} exists, left as it is"); continue
            p.parent.mkdir(parents=True, exist_ok=True); atomic_json(p, m); kept.append(n)
        else: checks[n] = m
    if checks:
        old = json.loads(checks_file.read_text()) if checks_file.exists() else {}
        atomic_json(checks_file, dict(note="runs of the ablation plan already made on CPU cores, made again on a GPU with "
                                           "the same seeds and protocol (tools/gpu_ablations.py); not result rows",
                                      runs={**old.get('runs', {}), **checks}))
    log(f"packaged {len(kept)} plan rows into {results}, {len(checks)} checks into {checks_file}")

def main(argv=None):
    ap = argparse.ArgumentParser(description=__doc__.split('\n\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    p = sub.add_parser('prepare'); p.add_argument('--carry', default='.carry')
    p.add_argument('--data-root', default=os.environ.get('DEEPCLUST_DATA', str(ROOT.parent/'shared'/'data')))
    p = sub.add_parser('run'); p.add_argument('--out', default='gpu-ablations-out'); p.add_argument('--runs', default='gpu-ablations-runs')
    p.add_argument('--device', default='cuda'); p.add_argument('--jobs', type=int, default=12)
    p.add_argument('--limit', type=float, default=550, help='no run is started that would end after this many seconds, by the longest run of its method so far')
    p.add_argument('--only', nargs='+'); p.add_argument('--checks', nargs='*', default=CHECKS)
    p.add_argument('--epochs', type=int, help='override the plan (CPU check of the script only)')
    p.add_argument('--subset', type=int, help='override the plan (CPU check of the script only)')
    p.add_argument('--plan', default='ablations'); p.add_argument('--results', default=str(ROOT/'results'/'ablations'))
    p = sub.add_parser('one'); p.add_argument('name'); p.add_argument('--folder', required=True); p.add_argument('--device', default='cuda')
    p.add_argument('--epochs', type=int); p.add_argument('--subset', type=int); p.add_argument('--plan', default='ablations')
    p = sub.add_parser('package'); p.add_argument('src'); p.add_argument('--results', default=str(ROOT/'results'/'ablations'))
    p.add_argument('--checks-file', default=str(ROOT/'results'/'gpu'/'ablation-checks.json'))
    a = ap.parse_args(argv)
    if a.cmd == 'prepare': prepare(Path(a.carry), Path(a.data_root))
    elif a.cmd == 'run': run(Path(a.out), Path(a.runs), a.device, a.jobs, a.limit, a.only, a.checks, a.epochs, a.subset, a.plan, Path(a.results))
    elif a.cmd == 'one': one(a.name, Path(a.folder), a.device, a.epochs, a.subset, a.plan)
    else: package(Path(a.src), Path(a.results), Path(a.checks_file))

if __name__ == '__main__': main()
