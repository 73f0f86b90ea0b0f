"""Method notebooks executed end to end by papermill at tiny scale, asserting on the metrics file each one writes.

Each entry: notebook → papermill parameters. The notebook's `out_dir` parameter receives a temporary folder; the
notebook must write the usual run folder there (metrics.json, log.jsonl, ...).
"""
import json, os
from pathlib import Path
import pytest

papermill = pytest.importorskip('papermill')
ROOT = Path(__file__).resolve().parents[1]
NBS = ROOT/'nbs'

RUNS = {
    '30_methods.kmeans.ipynb': dict(dataset='digits'),
    '31_methods.icbpl.ipynb': dict(dataset='digits', epochs=2),
    '32_methods.dcsc.ipynb': dict(dataset='digits', epochs=2),
    '33_methods.ghdcc.ipynb': dict(dataset='digits', epochs=2),
    '34_methods.bscic.ipynb': dict(dataset='digits', epochs=2),
    '35_methods.nncc.ipynb': dict(dataset='digits', epochs=2),
}
REQUIRED = {'method','dataset','split','n_images','image_size','backbone','pretrained','epochs','seed','device',
            'wall_time_s','command','acc','nmi','ari','n_clusters'}

@pytest.mark.parametrize('nb', sorted(RUNS))
def test_method_notebook_runs(nb, tmp_path):
    if not (NBS/nb).exists(): pytest.skip(f'{nb} not written yet')
    out = tmp_path/'run'
    papermill.execute_notebook(str(NBS/nb), str(tmp_path/nb), parameters=dict(out_dir=str(out), **RUNS[nb]),
                               cwd=str(NBS), kernel_name='python3', progress_bar=False)
    m = json.loads((out/'metrics.json').read_text())
    assert REQUIRED <= set(m), REQUIRED - set(m)
    for k in ('acc','nmi','ari'): assert 0 <= m[k] <= 1 or k == 'ari'
    if m['epochs'] > 0:
        log = [json.loads(l) for l in (out/'log.jsonl').read_text().splitlines()]
        assert len(log) == m['epochs']
        assert log[-1]['loss'] < log[0]['loss'], [r['loss'] for r in log]   # the loss fell
