"""The GPU ablation runner (tools/gpu_ablations.sh) run on the CPU as it runs on the device — the carried data made by
its `prepare` step, the library from the checkout, runs in their own processes — with one epoch on 200 images, then
its `package` step: rows into a results folder with both commands, device checks into a file the report does not read."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get('DEEPCLUST_DATA') or ROOT.parent/'shared'/'data')
ROW, CHECK = 'bscic-fashion_mnist-no_il-s0', 'nncc-fashion_mnist-views-full-s0'

@pytest.mark.skipif(not (DATA/'fashion-mnist'/'t10k-images-idx3-ubyte.gz').exists(), reason='Fashion-MNIST not found (DEEPCLUST_DATA)')
def test_gpu_ablations_run_on_cpu_and_package(tmp_path):
    carry, out, res_dir = tmp_path/'carry', tmp_path/'out', tmp_path/'results'
    r = subprocess.run([sys.executable, 'tools/gpu_ablations.py', 'prepare', '--carry', str(carry), '--data-root', str(DATA)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    assert sorted(p.relative_to(carry).as_posix() for p in carry.rglob('*.gz')) == [
        'data/fashion-mnist/t10k-images-idx3-ubyte.gz', 'data/fashion-mnist/t10k-labels-idx1-ubyte.gz',
        'data/mnist/t10k-images-idx3-ubyte.gz', 'data/mnist/t10k-labels-idx1-ubyte.gz']
    env = {**os.environ, 'CARRY': str(carry), 'OUT': str(out), 'PYTHONPATH': '', 'DEEPCLUST_CACHE': str(tmp_path/'cache')}
    r = subprocess.run(['bash', 'tools/gpu_ablations.sh', '--device', 'cpu', '--epochs', '1', '--subset', '200', '--jobs', '2',
                        '--runs', str(tmp_path/'runs'), '--only', ROW, '--checks', CHECK],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert sorted(p.name for p in out.iterdir()) == ['ablations.json', 'ablations.log']     # under the 8 files that come back
    res = json.loads((out/'ablations.json').read_text())
    assert res['rows'] == [ROW] and res['checks'] == [CHECK] and res['not_started'] == []
    assert res['script_check'] == dict(epochs=1, subset=200) and res['precision'].startswith('fp32')
    for n in (ROW, CHECK):
        m = res['runs'][n]
        assert 'error' not in m, m
        assert m['n_images'] == 200 and m['epochs'] == 1 and 0 <= m['acc'] <= 1 and m['plan'] == 'ablations'
    assert res['runs'][ROW]['ablation'] == 'no_il' and res['runs'][ROW]['overrides']['use_il'] is False
    # a check of the script is not packaged into the repository's result rows
    r = subprocess.run([sys.executable, 'tools/gpu_ablations.py', 'package', str(out)], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode != 0 and 'check of the script' in r.stderr, r.stdout + r.stderr
    checks = res_dir/'gpu'/'ablation-checks.json'
    r = subprocess.run([sys.executable, 'tools/gpu_ablations.py', 'package', str(out), '--results', str(res_dir), '--checks-file', str(checks)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stdout + r.stderr
    row = json.loads((res_dir/'bscic'/f'{ROW}.json').read_text())
    assert row['command'] == f'bash tools/gpu_ablations.sh --only {ROW}' and row['cpu_command'] == f'deepclust reproduce ablations --only {ROW}'
    assert row['gpu_run']['precision'].startswith('fp32') and 'run_dir' not in row
    assert list(json.loads(checks.read_text())['runs']) == [CHECK]
    from deepclust_nb.results import collect_metrics
    assert [m['ablation'] for m in collect_metrics(res_dir)] == ['no_il']      # the check adds no seed to any table
