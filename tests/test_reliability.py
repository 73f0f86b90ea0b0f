"""Run folders that are safe to share and safe to stop, tried as a user would: a crafted checkpoint is refused without
running its payload, every kind of damage to a run folder's files gets a two-line message and exit code 2, a data
cache entry is rebuilt, SIGTERM mid-epoch stops with a checkpoint that resumes to the uninterrupted result, torchrun
restarts a killed rank into the same result, one writer per folder, and a full disk loses nothing."""
import errno, json, os, signal, subprocess, sys, time
from pathlib import Path
from unittest import mock
import numpy as np
import pytest
import torch
from PIL import Image

from deepclust_nb.cli import main
from deepclust_nb.core import RunLock, load_torch
from deepclust_nb.loop import EXIT_STOPPED

ROOT = Path(__file__).resolve().parents[1]
ENV = {**os.environ, 'OMP_NUM_THREADS': '1', 'PYTHONPATH': f"{ROOT}{os.pathsep}{os.environ.get('PYTHONPATH', '')}"}
CLI = [sys.executable, '-m', 'deepclust_nb.cli']
TRAIN = ['--method', 'dcsc', '--dataset', 'digits', '--subset', '400', '--epochs', '3', '--batch-size', '16',
         '--backbone', 'convnet', '--feat-dim', '16', '--seed', '1', '--device', 'cpu', '--eval-every', '0',
         '--report', 'false', '--quiet']

@pytest.fixture(scope='module')
def finished(tmp_path_factory):
    "A finished run folder (k-means on 200 digits: quick, with a checkpoint holding its centroids) and a folder of images."
    d = tmp_path_factory.mktemp('rel')
    assert main(['fit', '--method', 'kmeans', '--dataset', 'digits', '--subset', '200', '--out', str(d/'run'),
                 '--report', 'false', '--quiet']) == 0
    imgs = d/'imgs'; imgs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(4): Image.fromarray(rng.integers(0, 255, (8, 8), dtype=np.uint8)).save(imgs/f'{i}.png')
    return d

def _copy(src, dst):
    import shutil
    shutil.copytree(src, dst)
    return dst

def _two_lines(err:str):
    "The CLI's message for bad input: 'deepclust: error: …' then '  How to fix: …', and no traceback."
    lines = [l for l in err.strip().splitlines() if l.strip()]
    assert 'Traceback' not in err, err
    assert len(lines) >= 2 and lines[-2].startswith('deepclust: error: ') and lines[-1].startswith('  How to fix: '), err
    return lines[-2]

def test_crafted_checkpoint_is_refused_and_its_payload_never_runs(finished, tmp_path):
    "`deepclust predict` and `--resume` on a checkpoint whose unpickling would run a command (a separate process, as a user)."
    run = _copy(finished/'run', tmp_path/'run')
    marker = tmp_path/'payload-ran'
    payload = (f"import torch, os\nclass P:\n    def __reduce__(self): return (os.system, ('touch {marker}',))\n"
               f"ck = torch.load({str(run/'checkpoint.pt')!r}, weights_only=True); ck['extra'] = {{'x': P()}}\n"
               f"torch.save(ck, {str(run/'checkpoint.pt')!r})\n")
    subprocess.run([sys.executable, '-c', payload], check=True, env=ENV)
    for argv in (['predict', str(run), '--images', str(finished/'imgs')], ['fit', '--resume', str(run), '--quiet']):
        p = subprocess.run(CLI + argv, capture_output=True, text=True, env=ENV, timeout=300)
        assert p.returncode == 2, p.stderr
        msg = _two_lines(p.stderr)
        assert 'holds objects that are not allowed (posix.system)' in msg and 'nothing in it was executed' in msg, msg
        assert not marker.exists(), 'the payload ran'
    assert not (run/'predictions.csv').exists()

DAMAGE = dict(truncated=lambda b: b[:max(1, len(b) // 3)], empty=lambda b: b'', zeros=lambda b: bytes(max(len(b), 16)),
              foreign=lambda b: b'\x89PNG\r\n\x1a\n' + bytes(200))
WORDS = dict(truncated=('cut short', 'not valid JSON', 'is damaged'), empty=('is empty',), zeros=('all zero bytes',),
             foreign=('not a file this library writes', 'not text', 'not valid JSON', 'is damaged'))

@pytest.mark.parametrize('kind', list(DAMAGE))
@pytest.mark.parametrize('name', ['checkpoint.pt', 'config.json'])
def test_damaged_run_file_is_named(finished, tmp_path, capsys, name, kind):
    "Each damaged file of a run folder: two lines naming the file and what is wrong, exit 2; the file is left as it was."
    run = _copy(finished/'run', tmp_path/'run')
    data = DAMAGE[kind]((run/name).read_bytes())
    (run/name).write_bytes(data)
    for argv in (['fit', '--resume', str(run), '--quiet'], ['predict', str(run), '--images', str(finished/'imgs')]):
        assert main(argv) == 2
        msg = _two_lines(capsys.readouterr().err)
        assert name in msg and any(w in msg for w in WORDS[kind]), msg
        assert (run/name).read_bytes() == data            # never silently replaced

@pytest.fixture(scope='module')
def trained(tmp_path_factory):
    "A 1-epoch DCSC run (checkpoint, log) to damage."
    d = tmp_path_factory.mktemp('trained')
    assert main(['fit', *TRAIN, '--epochs', '1', '--subset', '64', '--out', str(d/'run')]) == 0
    return d/'run'

@pytest.mark.parametrize('kind', list(DAMAGE))
def test_damaged_log_of_a_trained_run(trained, tmp_path, capsys, kind):
    run = _copy(trained, tmp_path/'run')
    data = DAMAGE[kind]((run/'log.jsonl').read_bytes())
    if kind == 'empty': data = b'{"epoch": 1, "loss'          # an empty log is a valid empty history: damage it instead
    (run/'log.jsonl').write_bytes(data)
    assert main(['fit', '--resume', str(run), '--epochs', '2', '--quiet']) == 2
    msg = _two_lines(capsys.readouterr().err)
    assert 'log.jsonl' in msg and ('is damaged' in msg or 'not text' in msg), msg
    assert (run/'log.jsonl').read_bytes() == data

def test_damaged_data_cache_is_rebuilt(tmp_path, monkeypatch, capsys):
    "A cached data set cut short is reported in one line and decoded again; the new entry loads."
    from deepclust_nb.data import load_dataset
    if not (Path(os.environ.get('DEEPCLUST_DATA', '/nonexistent'))/'mnist').exists(): pytest.skip('no MNIST files')
    monkeypatch.setenv('DEEPCLUST_CACHE', str(tmp_path))
    a = load_dataset('mnist', split='test')
    (f,) = list((tmp_path/'datasets').glob('mnist-*.pt'))
    f.write_bytes(f.read_bytes()[:5000])
    b = load_dataset('mnist', split='test')
    err = capsys.readouterr().err
    assert 'is cut short or corrupt' in err and 'decoding the data set again' in err and err.count('\n') == 1, err
    assert torch.equal(a.x, b.x) and torch.equal(a.y, b.y)
    assert torch.equal(load_torch(f)['x'], a.x)

def _metrics(run): return json.loads((run/'metrics.json').read_text())

@pytest.fixture(scope='module')
def reference(tmp_path_factory):
    "The uninterrupted run the stopped ones must equal."
    d = tmp_path_factory.mktemp('ref')
    p = subprocess.run(CLI + ['fit', *TRAIN, '--out', str(d/'ref')], capture_output=True, text=True, env=ENV, timeout=600)
    assert p.returncode == 0, p.stderr
    return d/'ref'

def test_sigterm_mid_epoch_stops_with_a_checkpoint_and_resume_auto_finishes_the_same_run(reference, tmp_path):
    "SIGTERM inside epoch 2: exit code 75 and how to continue; the same command with --resume auto ends as the uninterrupted run."
    run = tmp_path/'stopped'
    cmd = CLI + ['fit', *TRAIN, '--out', str(run), '--resume', 'auto']
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=ENV)
    t0 = time.time()
    while time.time() - t0 < 300:          # wait until epoch 1 is logged, then signal inside epoch 2
        if (run/'log.jsonl').exists() and (run/'log.jsonl').read_text().count('\n') >= 1: break
        if p.poll() is not None: break
        time.sleep(0.05)
    time.sleep(0.5)
    assert p.poll() is None, "the run finished before it could be stopped: make it longer"
    p.send_signal(signal.SIGTERM)
    err = p.communicate(timeout=120)[1]
    assert p.returncode == EXIT_STOPPED, err
    assert 'stopped by SIGTERM at epoch 2, step' in err and '--resume auto' in err and 'Traceback' not in err, err
    assert not (run/'metrics.json').exists()
    ck = load_torch(run/'checkpoint.pt')
    assert ck['position'] is not None and 0 < ck['position']['step'] < ck['position']['steps'], ck['position']
    assert not (run/'.lock').exists()
    r = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    assert r.returncode == 0, r.stderr
    assert 'continuing the run in' in r.stderr
    a, b = _metrics(reference), _metrics(run)
    for k in ('acc', 'nmi', 'ari'): assert abs(a[k] - b[k]) < 1e-6, (k, a[k], b[k])
    wa, wb = load_torch(reference/'checkpoint.pt')['model'], load_torch(run/'checkpoint.pt')['model']
    for k in wa: assert torch.allclose(wa[k].float(), wb[k].float(), atol=1e-6), k
    la = [json.loads(l) for l in (reference/'log.jsonl').read_text().splitlines()]
    lb = [json.loads(l) for l in (run/'log.jsonl').read_text().splitlines()]
    assert [r['epoch'] for r in lb] == [1, 2, 3]
    for x, y in zip(la, lb): assert abs(x['loss'] - y['loss']) < 1e-6

KILLER = '''
import os, signal, sys
from deepclust_nb import loop      # the module whose training loop calls forward_backward
from deepclust_nb.cli import main
marker, kill_at, argv = sys.argv[1], int(sys.argv[2]), sys.argv[3:]
if os.environ.get('RANK') == '1' and not os.path.exists(marker):     # the first attempt: rank 1 dies at step kill_at
    step = loop.forward_backward
    def forward_backward(learn, gidx, check=True):
        if learn.iter == kill_at:
            open(marker, 'w').close(); os.kill(os.getpid(), signal.SIGKILL)
        return step(learn, gidx, check)
    loop.forward_backward = forward_backward
sys.exit(main(argv))
'''

def test_torchrun_restarts_a_killed_rank_into_the_uninterrupted_result(tmp_path):
    "Rank 1 of a 2-process gloo run is killed inside epoch 2; `torchrun --max-restarts 2` repeats the command (--resume auto; one restart is spare)."
    script = tmp_path/'killer.py'; script.write_text(KILLER)
    args = ['fit', '--method', 'dcsc', '--dataset', 'digits', '--subset', '120', '--backbone', 'convnet', '--device', 'cpu',
            '--epochs', '3', '--batch-size', '16', '--feat-dim', '16', '--report', 'false', '--quiet', '--resume', 'auto']
    def torchrun(out, marker, kill_at):
        cmd = [sys.executable, '-m', 'torch.distributed.run', '--standalone', '--nproc_per_node=2', '--max-restarts=2',
               str(script), str(marker), str(kill_at), *args, '--out', str(out)]
        return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=600)
    done = tmp_path/'no-kill'; done.write_text('')
    ref = torchrun(tmp_path/'ref', done, -1)
    assert ref.returncode == 0, ref.stderr[-3000:]
    marker = tmp_path/'killed'
    p = torchrun(tmp_path/'run', marker, 10)           # 7 steps per epoch: step 4 of epoch 2
    assert p.returncode == 0, p.stderr[-3000:]
    assert marker.exists(), 'rank 1 was never killed'
    assert 'continuing the run in' in p.stderr
    a, b = _metrics(tmp_path/'ref'), _metrics(tmp_path/'run')
    assert b['world_size'] == 2 and b['epochs'] == 3
    for k in ('acc', 'nmi', 'ari'): assert abs(a[k] - b[k]) < 1e-6, (k, a[k], b[k])

def test_one_writer_per_run_folder(finished, tmp_path, capsys):
    run = _copy(finished/'run', tmp_path/'run')
    with RunLock(run):
        assert main(['fit', '--resume', str(run), '--quiet']) == 2
        assert 'is being written by a running process (pid' in _two_lines(capsys.readouterr().err)
    (run/'.lock').write_text('pid 999999 on a-host since 2026-01-01 00:00:00')     # left by a killed process
    assert main(['fit', '--resume', str(run), '--quiet']) == 0
    assert 'took over the lock' in capsys.readouterr().err and not (run/'.lock').exists()

def test_full_disk_stops_with_the_space_needed_and_keeps_the_last_checkpoint(tmp_path, capsys):
    "ENOSPC from the second epoch's writes: a two-line message naming the folder; the first epoch's checkpoint resumes."
    run = tmp_path/'full'
    argv = ['fit', *TRAIN, '--subset', '64', '--out', str(run)]
    real, calls = os.fsync, []
    def fsync(fd):
        calls.append(fd)
        if (run/'log.jsonl').exists(): raise OSError(errno.ENOSPC, 'No space left on device')
        return real(fd)
    with mock.patch('os.fsync', fsync): assert main(argv) == 2
    msg = _two_lines(capsys.readouterr().err)
    assert f'no space left on the device of {run}' in msg and 'MB needed' in msg, msg
    assert load_torch(run/'checkpoint.pt')['epoch'] == 1 and not list(run.glob('.*.tmp'))
    assert main(['fit', '--resume', str(run), '--quiet']) == 0
    assert _metrics(run)['epochs'] == 3
