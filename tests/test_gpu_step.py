"""The prepared GPU command (tools/gpu_step.sh) run on the CPU as it runs on the device, from the carried folder the
slice's `prepare` makes, then its `package` step: the script, its criteria and its result files cannot rot."""
import json, os, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get('DEEPCLUST_DATA') or ROOT.parent/'shared'/'data')

@pytest.mark.skipif(not (DATA/'cifar10'/'cifar10-jpeg.tar.gz').exists(), reason='CIFAR-10 archive not found (DEEPCLUST_DATA)')
def test_gpu_step_runs_on_cpu_and_packages(tmp_path):
    carry, out, dest = tmp_path/'carry', tmp_path/'out', tmp_path/'step'
    r = subprocess.run([sys.executable, 'tools/gpu_slice.py', 'prepare', '--carry', str(carry), '--data-root', str(DATA)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    env = {**os.environ, 'CARRY': str(carry), 'OUT': str(out), 'PYTHONPATH': ''}
    r = subprocess.run(['bash', 'tools/gpu_step.sh', '--device', 'cpu', '--subset', '1000', '--budget', '2', '--steps', '3', '--quick'],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert sorted(p.name for p in out.rglob('*') if p.is_file()) == ['step.json', 'step.log']
    res = json.loads((out/'step.json').read_text())
    assert not res['errors'], res['errors']
    assert res['data']['n_images'] == 1000 and Path(res['data_root']) == carry/'data'
    st = res['bscic_step']
    for mode in ('plain', 'graphed'):
        assert st[mode]['finite'] and st[mode]['ms_per_step'] > 0 and st[mode]['steps'] == 3
        assert st[mode]['distinct_losses'] == 3              # every step drew new views
    assert [m['method'] for m in res['runs']] == ['cc', 'dcsc']
    for m in res['runs']:
        assert m['overrides']['image_size'] == 32 and m['hp']['preset'] == 'paper' and m['time_budget'] == 2
        assert m['throughput']['steady_img_per_s'] > 0 and m['epoch_throughput'][0]['acc'] is not None
    c = res['criteria']
    assert {'cc_acc_rises', 'dcsc_all_clusters', 'dcsc_ge_cc_in_most', 'bscic_graph_faster', 'bscic_graph_new_views'} <= set(c)
    r = subprocess.run([sys.executable, 'tools/gpu_step.py', 'package', str(out), '--dest', str(dest)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    assert json.loads((dest/'step.json').read_text())['criteria'] == c and (dest/'step.log').exists()
