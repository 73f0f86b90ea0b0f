"""The `deepclust` command on bad input (each gets one clear message and a non-zero exit, and nothing is written
outside the run folder), and a run killed with SIGKILL mid-epoch that resumes to the same result."""
import json, os, signal, subprocess, sys, time
from pathlib import Path
import numpy as np
import pytest
from PIL import Image

from deepclust_nb.cli import main
from deepclust_nb.method import load_methods

ROOT = Path(__file__).resolve().parents[1]

@pytest.fixture
def sandbox(tmp_path, monkeypatch):
    "A working folder and a runs folder, both empty; returns a function listing every file written under tmp_path."
    work = tmp_path/'work'; work.mkdir()
    monkeypatch.chdir(work)
    monkeypatch.setenv('DEEPCLUST_RUNS', str(tmp_path/'runs'))
    def written(): return sorted(str(p.relative_to(tmp_path)) for p in tmp_path.rglob('*') if p.is_file())
    return tmp_path, written

def _images(folder, n=6, size=16, kinds=('RGB',)):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for i in range(n):
        arr = rng.integers(0, 255, (size, size, 3), dtype=np.uint8)
        Image.fromarray(arr).convert(kinds[i % len(kinds)]).save(folder/f'img{i}.png')
    return folder

def _bad_cases(tmp):
    "(name, argv, expected words in the message) for at least 20 kinds of bad input."
    empty = tmp/'empty'; empty.mkdir()
    junk = tmp/'junk'; junk.mkdir(); (junk/'a.txt').write_text('not an image'); (junk/'b.jpg').write_bytes(b'\xff\xd8garbage')
    a_file = tmp/'file.png'; a_file.write_bytes(b'\x89PNG broken')
    imgs = _images(tmp/'imgs')
    notrun = tmp/'notrun'; notrun.mkdir()
    blocker = tmp/'blocker.txt'; blocker.write_text('a file where a folder is asked for')
    badplan = tmp/'bad.yaml'; badplan.write_text('entries: [unclosed')
    noentries = tmp/'noentries.yaml'; noentries.write_text('name: x\n')
    out = ['--out', str(tmp/'runs'/'case')]
    return [
        ('unknown method',      ['fit','--method','nosuch'], 'unknown method'),
        ('no method',           ['fit','--dataset','digits'], 'no method given'),
        ('unknown data set',    ['fit','--method','kmeans','--dataset','nosuch', *out], 'unknown data set'),
        ('missing data folder', ['fit','--method','kmeans','--dataset','cifar100_20','--root',str(tmp/'nowhere'), *out], 'cifar'),
        ('empty image folder',  ['fit','--method','kmeans','--images',str(empty),'--clusters','2', *out], 'is empty'),
        ('missing image folder',['fit','--method','kmeans','--images',str(tmp/'nowhere'),'--clusters','2', *out], 'nowhere'),
        ('only junk files',     ['fit','--method','kmeans','--images',str(junk),'--clusters','2', *out], 'junk'),
        ('a file, not a folder',['fit','--method','kmeans','--images',str(a_file),'--clusters','2', *out], 'file.png'),
        ('no K for own images', ['fit','--method','kmeans','--images',str(imgs), *out], '--clusters'),
        ('K = 1',               ['fit','--method','kmeans','--clusters','1', *out], 'too small'),
        ('K = 0',               ['fit','--method','kmeans','--clusters','0', *out], 'n_clusters'),
        ('K > images',          ['fit','--method','kmeans','--images',str(imgs),'--clusters','50', *out], 'larger than the number of images'),
        ('K not a number',      ['fit','--method','kmeans','--clusters','ten', *out], 'n_clusters'),
        ('unknown parameter',   ['fit','--method','kmeans','--bogus','1', *out], 'unknown parameter'),
        ('negative epochs',     ['fit','--method','kmeans','--epochs','-1', *out], 'epochs'),
        ('batch size 0',        ['fit','--method','kmeans','--batch-size','0', *out], 'batch_size'),
        ('lr not a number',     ['fit','--method','kmeans','--lr','fast', *out], 'lr'),
        ('image size 2',        ['fit','--method','kmeans','--image-size','2', *out], 'image_size'),
        ('unknown split',       ['fit','--method','kmeans','--split','validation', *out], 'split'),
        ('device cuda, no GPU', ['fit','--method','kmeans','--device','cuda', *out], 'CUDA'),
        ('unknown device',      ['fit','--method','kmeans','--device','tpu', *out], 'device'),
        ('unknown backbone',    ['fit','--method','kmeans','--backbone','vgg99', *out], 'backbone'),
        ('resume: no folder',   ['fit','--resume',str(tmp/'nowhere')], 'not a run folder'),
        ('resume: not a run',   ['fit','--resume',str(notrun)], 'not a run folder'),
        ('option with no value',['fit','--method','kmeans','--seed'], 'seed'),
        ('predict: not a run',  ['predict',str(notrun),'--images',str(imgs)], 'not a finished run folder'),
        ('reproduce: no plan',  ['reproduce',str(tmp/'none.yaml')], 'not found'),
        ('reproduce: bad YAML', ['reproduce',str(badplan)], 'not valid YAML'),
        ('reproduce: no entries',['reproduce',str(noentries)], 'no entries'),
        ('report: nothing',     ['report',str(empty)], 'no metrics files'),
        ('--out under a file',  ['fit','--method','kmeans','--out',str(blocker/'x')], 'cannot create the run folder'),
        ('--out in /proc',      ['fit','--method','kmeans','--out','/proc/deepclust-x'], 'cannot create the run folder'),
    ]

def test_bad_input_gets_clear_errors(sandbox, capsys):
    tmp, written = sandbox
    cases = _bad_cases(tmp)
    assert len(cases) >= 20
    before = set(written())
    problems = []
    for name, argv, words in cases:
        if name == 'device cuda, no GPU':
            import torch
            if torch.cuda.is_available(): continue
        code = None
        try: code = main(argv)
        except SystemExit as e: code = e.code   # argparse usage errors
        err = capsys.readouterr().err
        new = set(written()) - before
        if code in (0, None): problems.append(f"{name}: exit {code}")
        elif 'Traceback' in err: problems.append(f"{name}: traceback {err}")
        elif words.lower() not in err.lower(): problems.append(f"{name}: expected '{words}' in: {err}")
        elif new: problems.append(f"{name}: wrote {sorted(new)}")
        before |= new
    assert not problems, '\n'.join(problems)

def test_unusable_cache_folder_is_named(sandbox, capsys, monkeypatch):
    tmp, written = sandbox
    blocker = tmp/'cache-file'; blocker.write_text('x')
    monkeypatch.setenv('DEEPCLUST_CACHE', str(blocker/'cache'))      # a file stands where the folder would go
    code = main(['fit', '--method', 'kmeans', '--dataset', 'mnist', '--out', str(tmp/'runs'/'c')])
    err = capsys.readouterr().err
    assert code == 2 and 'Traceback' not in err and 'DEEPCLUST_CACHE' in err and 'cannot create' in err, err
    assert len(err.strip().splitlines()) == 2                        # the problem, then the fix

def test_run_files_follow_the_umask(sandbox):
    tmp, written = sandbox
    old = os.umask(0o022)
    try: assert main(['fit', '--method', 'kmeans', '--dataset', 'digits', '--subset', '200', '--out', str(tmp/'runs'/'u'), '--quiet']) == 0
    finally: os.umask(old)
    files = [p for p in (tmp/'runs'/'u').rglob('*') if p.is_file()]
    assert {'metrics.json', 'report.html', 'assignments.csv', 'checkpoint.pt'} <= {p.name for p in files}
    modes = {p.name: oct(p.stat().st_mode & 0o777) for p in files}
    assert set(modes.values()) == {'0o644'}, modes                    # as open() creates them under umask 022

def test_error_exit_code_from_a_real_process(tmp_path):
    r = subprocess.run([sys.executable, '-m', 'deepclust_nb.cli', 'fit', '--method', 'kmeans', '--clusters', '1',
                        '--out', str(tmp_path/'r')], capture_output=True, text=True, cwd=tmp_path, timeout=120)
    assert r.returncode == 2 and 'too small' in r.stderr and 'Traceback' not in r.stderr
    assert not (tmp_path/'r').exists()

def _trainable_method():
    from deepclust_nb.method import method_names
    names = method_names()
    if not names: pytest.skip('no trainable method registered')
    return 'dcsc' if 'dcsc' in names else names[0]

def test_sigkill_mid_epoch_then_resume_matches_uninterrupted(tmp_path):
    m = _trainable_method()
    args = ['--method', m, '--dataset', 'digits', '--subset', '400', '--epochs', '4', '--batch-size', '32',
            '--backbone', 'convnet', '--seed', '3', '--device', 'cpu', '--eval-every', '0', '--report', 'false']
    cli = [sys.executable, '-m', 'deepclust_nb.cli', 'fit']
    ref = subprocess.run(cli + args + ['--out', str(tmp_path/'ref'), '--quiet'], capture_output=True, text=True, timeout=900)
    assert ref.returncode == 0, ref.stderr
    run = tmp_path/'killed'
    p = subprocess.Popen(cli + args + ['--out', str(run), '--quiet'], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    t0 = time.time()
    while time.time() - t0 < 240:   # wait until epoch 1 is checkpointed, then kill inside epoch 2
        if (run/'log.jsonl').exists() and (run/'log.jsonl').read_text().count('\n') >= 1: break
        if p.poll() is not None: break
        time.sleep(0.05)
    time.sleep(0.3)
    assert p.poll() is None, "the run finished before it could be killed: make it longer"
    os.kill(p.pid, signal.SIGKILL); p.wait()
    assert not (run/'metrics.json').exists()
    json.loads((run/'config.json').read_text())       # complete files only
    res = subprocess.run(cli + ['--resume', str(run), '--quiet'], capture_output=True, text=True, timeout=900)
    assert res.returncode == 0, res.stderr
    a = json.loads((tmp_path/'ref'/'metrics.json').read_text()); b = json.loads((run/'metrics.json').read_text())
    assert b['epochs'] == 4
    for k in ('acc', 'nmi', 'ari'): assert abs(a[k] - b[k]) < 1e-6, (k, a[k], b[k])
    la = [json.loads(l) for l in (tmp_path/'ref'/'log.jsonl').read_text().splitlines()]
    lb = [json.loads(l) for l in (run/'log.jsonl').read_text().splitlines()]
    assert [r['epoch'] for r in lb] == [1, 2, 3, 4]
    assert abs(la[-1]['loss'] - lb[-1]['loss']) < 1e-5

def test_param_meanings_survive_a_method_class_typed_into_a_session():
    "Running a method notebook registers its class from the notebook (no source file): the meanings come from the package."
    from deepclust_nb.method import register_method, get_method, param_docs
    load_methods()
    pkg = get_method('bscic')
    ns = {'B': pkg, 'register_method': register_method}
    exec(compile("class BSCIC(B):\n    name = 'bscic'\nregister_method(BSCIC)\n", '<ipython-input-1>', 'exec'), ns)
    try:
        assert get_method('bscic') is not pkg and 'use_mi' in param_docs('bscic')
        session = get_method('bscic')
        assert param_docs('bscic') and get_method('bscic') is session      # looking up the help never re-registers
    finally: register_method(pkg)
