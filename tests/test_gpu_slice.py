"""The GPU slice script (tools/gpu_slice.sh) run on the CPU exactly as it runs on the device — the carried folder made
by its `prepare` step, the library from the checkout — on 2,000 CIFAR-10 images with budgets of seconds, then its
`package` step: so the script, the carried layout and the result files the README reads cannot rot."""
import json, os, subprocess, sys
from pathlib import Path
import pytest
from deepclust_nb.method import method_names, get_method

ROOT = Path(__file__).resolve().parents[1]
DATA = Path(os.environ.get('DEEPCLUST_DATA') or ROOT.parent/'shared'/'data')

@pytest.mark.skipif(not (DATA/'cifar10'/'cifar10-jpeg.tar.gz').exists(), reason='CIFAR-10 archive not found (DEEPCLUST_DATA)')
def test_gpu_slice_runs_on_cpu_and_packages(tmp_path):
    carry, out, results = tmp_path/'carry', tmp_path/'out', tmp_path/'results'
    r = subprocess.run([sys.executable, 'tools/gpu_slice.py', 'prepare', '--carry', str(carry), '--data-root', str(DATA)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300)
    assert r.returncode == 0, r.stdout + r.stderr
    assert (carry/'data'/'cifar10'/'cifar10-jpeg.tar.gz').exists() and (carry/'site'/'efficientnet_lite_pytorch').is_dir()
    env = {**os.environ, 'CARRY': str(carry), 'OUT': str(out), 'PYTHONPATH': ''}
    r = subprocess.run(['bash', 'tools/gpu_slice.sh', '--device', 'cpu', '--subset', '2000', '--budget', '2', '--quick'],
                       cwd=ROOT, env=env, capture_output=True, text=True, timeout=900)
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    files = sorted(p.name for p in out.rglob('*') if p.is_file())
    assert files == ['slice.json', 'slice.log'], files                  # well under the 8 files that come back
    res = json.loads((out/'slice.json').read_text())
    assert not res['errors'], res['errors']
    assert res['data']['n_images'] == 2000 and res['bare_loop']['img_per_s'] > 0 and res['neighbours']['knn_s'] > 0
    # the paper architectures, a step each under bf16 autocast on the CPU, with the checks the GPU run makes
    loops = res['bare_loops']
    assert sorted(loops) == ['effnet_lite0', 'effnet_lite0_last2', 'resnet18', 'resnet34'], sorted(loops)
    for b in loops.values():
        assert all(b['checks'].values()) and b['activation_dtype'] == 'bfloat16' and b['img_per_s'] > 0, b
    assert loops['effnet_lite0_last2']['n_trainable'] < loops['effnet_lite0']['n_trainable'] == loops['effnet_lite0']['n_params']
    assert Path(res['efficientnet_from']).is_relative_to(carry/'site')    # the carried packages, not the installed ones
    assert Path(res['data_root']) == carry/'data'
    assert [m['method'] for m in res['runs']] == method_names()          # every registered method, from the registry
    for m in res['runs']:
        assert 0 <= m['acc'] <= 1 and m['curve'] and m['throughput']['view_img_per_s'] > 0
        assert m['throughput']['fraction_of_bare_loop'] > 0 and m['epochs'] >= 1 and m['time_budget'] == 2
    r = subprocess.run([sys.executable, 'tools/gpu_slice.py', 'package', str(out), '--results', str(results)],
                       cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert r.returncode == 0, r.stderr
    from deepclust_nb.results import collect_metrics, summarize, time_to_accuracy
    rows = collect_metrics(results)
    assert sorted(m['method'] for m in rows) == sorted(method_names())
    assert all('gpu_slice' in m['protocol'] and 'paper, overrides:' in m['protocol'] and m['slice']['command'] for m in rows)
    proto = {m['method']: m['protocol'] for m in rows}          # every departure from the paper named, with the paper's value
    assert 'image_size=32 (paper: 224)' in proto['dcsc'] and 'image_size=32 (paper: 64)' in proto['ghdcc']
    assert 'pretrain_epochs=1 (paper: 100)' in proto['nncc'] and 'EfficientNet-Lite0' in proto['icbpl']
    assert 'backbone=convnet_s (paper: resnet34)' in proto['dcsc'] and 'bt_epochs=1 (paper: 20)' in proto['icbpl']
    for name in method_names():                                 # each method's own overrides are named in its protocol
        for k in get_method(name).gpu_slice['overrides']: assert f'{k}=' in proto[name], (name, k, proto[name])   # --subset replaces the value
    assert len(summarize(rows)) == len(method_names()) and all(time_to_accuracy(m["curve"])["best_acc"] >= 0 for m in rows)

def test_gpu_profile_on_cpu(tmp_path):
    "tools/gpu_profile.py on the CPU (the digits, the small ConvNet): the ranked operators and the run's metrics land in OUT."
    r = subprocess.run([sys.executable, 'tools/gpu_profile.py', 'bscic', '--dataset', 'digits', '--device', 'cpu', '--subset', '256',
                        '--epochs', '1', '--param', 'backbone=convnet_s', '--rows', '5', '--out', str(tmp_path)],
                       cwd=ROOT, capture_output=True, text=True, timeout=300, env={**os.environ, 'PYTHONPATH': str(ROOT)})
    assert r.returncode == 0, r.stdout + r.stderr
    p = json.loads((tmp_path/'profile-bscic.json').read_text())
    assert p['ranked_by'] == 'self_cpu_time_total' and len(p['ops']) == 5 and p['metrics']['n_images'] == 256
    assert p['ops'][0]['self_s'] >= p['ops'][-1]['self_s'] > 0 and 0 < sum(o['share'] for o in p['ops']) <= 1
    assert 'bscic:' in r.stdout and p['params'] == dict(backbone='convnet_s', subset=256)
