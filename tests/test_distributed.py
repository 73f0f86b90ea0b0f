"""Every method under torch.distributed, on the CPU with gloo and 2 processes: one training step on a fixed global
batch equals the single-process step (every loss term and every gradient), a 2-process run of each method writes the
usual run folder from rank 0 and ends with the same model on both processes, a resumed 2-process run equals an
uninterrupted one, and `torchrun -m deepclust_nb.cli fit` works."""
import json, os, subprocess, sys
from pathlib import Path
import pytest
import torch

from deepclust_nb.distributed import run_gloo, rank, world
from deepclust_nb.runs import step_state, compare_steps, fit
from deepclust_nb.loop import RunStopped
from deepclust_nb.method import method_names, get_method

ROOT = Path(__file__).resolve().parents[1]
COMMON = dict(dataset='digits', subset=120, device='cpu', backbone='convnet', seed=0)
# every registered deep method, with the parameters its class gives in test_settings['distributed']
PARAMS = {m: dict(get_method(m).test_settings.get('distributed') or {}) for m in method_names()}
# extra step checks: the other code paths a method names in test_settings['distributed_steps'] (NNCC's SimCLR stage,
# ICBPL fine-tuning through the views)
STEPS = {**{m: (m, {}) for m in PARAMS},
         **{f'{m}-{k}': (m, v) for m in PARAMS for k, v in (get_method(m).test_settings.get('distributed_steps') or {}).items()}}
GIDX = list(range(0, 48, 3))          # a global batch of 16: 8 rows per process
RUN = dict(epochs=1, batch_size=16, report=False, progress=False)

def _hp(key):
    name, extra = STEPS[key]
    return name, {**COMMON, **PARAMS[name], **extra}

def _on_two(out):
    "Everything the tests check, computed once in each of the 2 processes."
    out, res = Path(out), {}
    for key in STEPS:
        name, hp = _hp(key)
        res['step', key] = step_state(name, GIDX, **hp)
    for name in PARAMS:
        run = fit(name, out=out/name, **{**COMMON, **PARAMS[name], **RUN})
        res['fit', name] = (run.history, {k: v.clone() for k, v in run.learn.method.state_dict().items()}, run.metrics)
    hp = {**COMMON, **PARAMS['dcsc'], **RUN}
    straight = fit('dcsc', out=out/'straight', **{**hp, 'epochs': 2})
    try: fit('dcsc', out=out/'resumed', **{**hp, 'epochs': 2, 'stop_after': 1})   # the same schedule (DCSC's cpu preset: a cosine), cut
    except RunStopped: pass
    resumed = fit('dcsc', resume=out/'resumed', stop_after=0)
    res['resume'] = (straight.metrics, resumed.metrics, straight.learn.method.state_dict(), resumed.learn.method.state_dict())
    res['world'] = (rank(), world())
    return res

@pytest.fixture(scope='module')
def two(tmp_path_factory):
    out = tmp_path_factory.mktemp('two')
    return out, run_gloo(_on_two, 2, (str(out),))

@pytest.fixture(scope='module')
def single():
    return {key: step_state(_hp(key)[0], GIDX, **_hp(key)[1]) for key in STEPS}

def test_two_processes_ran(two):
    _, (r0, r1) = two
    assert r0['world'] == (0, 2) and r1['world'] == (1, 2)

@pytest.mark.parametrize('key', list(STEPS))
def test_step_matches_single_process(two, single, key):
    "Loss terms and every parameter gradient of a 2-process step equal the 1-process step on the same global batch."
    one = single[key]
    big = max(g.abs().max().item() for g in one['grads'].values()) if one['grads'] else 0.
    assert big > 1e-4                                                   # there is something to compare
    for r in two[1]:
        d = compare_steps(one, r['step', key])
        assert max(d.values()) < 1e-5 * max(1., big), (key, d, big)      # float32 rounding scales with the gradients' size

@pytest.mark.parametrize('name', list(PARAMS))
def test_two_process_run_writes_run_folder(two, name):
    "A 2-process run writes the usual folder (rank 0 only) and both processes end with the same model and history."
    out, (r0, r1) = two
    d = out/name
    for f in ('config.json', 'log.jsonl', 'checkpoint.pt', 'metrics.json', 'assignments.csv', 'curves.png'):
        assert (d/f).exists(), f
    assert not list(d.glob('*.tmp*')) and not list(d.glob('.*'))
    assert len((d/'log.jsonl').read_text().splitlines()) == 1
    m = json.loads((d/'metrics.json').read_text())
    assert m['world_size'] == 2 and m['epochs'] == 1 and 0 <= m['acc'] <= 1
    assert json.loads((d/'config.json').read_text())['world_size'] == 2
    (h0, s0, _), (h1, s1, _) = r0['fit', name], r1['fit', name]
    assert h0 == h1
    assert s0.keys() == s1.keys()
    for k in s0: assert torch.equal(s0[k], s1[k]), k      # DDP weights, EMA target, critic, BatchNorm statistics

def test_resume_under_two_processes(two):
    "1 epoch + resume to 2 epochs on 2 processes equals 2 epochs straight on 2 processes."
    out, (r0, _) = two
    ms, mr, ss, sr = r0['resume']
    assert mr['epochs'] == ms['epochs'] == 2
    for k in ('acc', 'nmi', 'ari'): assert abs(ms[k] - mr[k]) < 1e-6
    for k in ss: assert torch.allclose(ss[k].float(), sr[k].float(), atol=1e-5), k
    assert len((out/'resumed'/'log.jsonl').read_text().splitlines()) == 2

def test_torchrun_cli(tmp_path):
    "`torchrun -m deepclust_nb.cli fit` trains on 2 processes and prints the result once."
    env = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
    cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '-m', 'deepclust_nb.cli',
           'fit', '--method', 'dcsc', '--dataset', 'digits', '--subset', '120', '--backbone', 'convnet', '--device', 'cpu',
           '--epochs', '1', '--batch-size', '16', '--feat-dim', '16', '--set', 'report=false', '--quiet', '--out', str(tmp_path/'run')]
    p = subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=300)
    assert p.returncode == 0, p.stderr[-3000:]
    assert p.stdout.count('run folder:') == 1, p.stdout
    m = json.loads((tmp_path/'run'/'metrics.json').read_text())
    assert m['world_size'] == 2 and m['method'] == 'dcsc'
