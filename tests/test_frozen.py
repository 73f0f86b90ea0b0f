"""Every method on frozen pretrained features (`--backbone effnet_lite0 --finetune none`): a tiny run of each, with the
feature cache built here; a second run that reads everything from the cache and never runs the backbone; resume,
prediction of new images, own images, and a damaged cache entry."""
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from deepclust_nb.runs import fit
from deepclust_nb.loop import RunStopped
from deepclust_nb.method import method_names, get_method
from deepclust_nb.backbones import Backbone
from deepclust_nb.cli import main

METHODS = method_names()      # every registered deep method; its test_settings['frozen'] adds its own settings
FROZEN = dict(backbone='effnet_lite0', finetune='none', feature_views=2, feature_seed=0, dataset='digits', subset=300,
              epochs=2, batch_size=64, progress=False, report=False, device='cpu')

@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv('DEEPCLUST_CACHE', str(tmp_path/'cache'))
    return tmp_path/'cache'

@pytest.fixture
def backbone_calls(monkeypatch):
    "Count the images every Backbone embeds."
    n = [0]
    orig = Backbone.forward
    def counted(self, x):
        n[0] += len(x)
        return orig(self, x)
    monkeypatch.setattr(Backbone, 'forward', counted)
    return n

@pytest.mark.parametrize('method', METHODS)
def test_frozen_run_then_cached(method, tmp_path, cache, backbone_calls):
    extra = dict(get_method(method).test_settings.get('frozen') or {})
    r = fit(method, out=tmp_path/'a', **FROZEN, **extra)
    m = r.learn.method
    assert m.bank is not None and tuple(m.bank.views.shape[:2]) == (2, 300) and m.needs_images is False
    assert 0 <= r.metrics['acc'] <= 1 and len(r.history) == 2
    assert backbone_calls[0] == 300 * 3                       # the clean images and two copies, embedded once
    files = sorted(p.name for p in (cache/'features').iterdir())
    assert len(files) == 3
    backbone_calls[0] = 0
    r2 = fit(method, out=tmp_path/'b', **FROZEN, **extra)      # a second run: everything from the cache
    assert backbone_calls[0] == 0, f"the backbone ran on {backbone_calls[0]} images although every feature is cached"
    assert sorted(p.name for p in (cache/'features').iterdir()) == files
    assert abs(r2.metrics['acc'] - r.metrics['acc']) < 1e-6

def test_frozen_resume_predict_and_own_images(tmp_path, cache):
    r = fit('dcsc', out=tmp_path/'a', **FROZEN)
    try: fit('dcsc', out=tmp_path/'b', **{**FROZEN, 'stop_after': 1})   # the same schedule (DCSC's cpu preset: a cosine), cut
    except RunStopped: pass
    rb = fit('dcsc', resume=tmp_path/'b', stop_after=0)       # the bank is read back, training continues
    for k in ('acc', 'nmi', 'ari'): assert abs(rb.metrics[k] - r.metrics[k]) < 1e-6
    imgs = tmp_path/'imgs'; imgs.mkdir()
    rng = np.random.default_rng(0)
    for i in range(24):
        Image.fromarray(rng.integers(0, 255, (40, 40, 3), dtype=np.uint8)).save(imgs/f'{i}.png')
    own = fit('nncc', out=tmp_path/'own', images=imgs, n_clusters=3, **{k: v for k, v in FROZEN.items() if k not in ('dataset', 'subset')},
              pretrain_epochs=1, T=2)
    assert own.learn.method.bank is not None and own.metrics['n_images'] == 24
    assert main(['predict', str(tmp_path/'own'), '--images', str(imgs), '--device', 'cpu']) == 0
    rows = (tmp_path/'own'/'predictions.csv').read_text().splitlines()
    assert len(rows) == 25 and rows[0] == 'path,cluster,confidence'
    # prediction runs the backbone on the new images: the same images get the clusters of the run
    got = {Path(l.split(',')[0]).name: int(l.split(',')[1]) for l in rows[1:]}
    ref = {Path(l.split(',')[1]).name: int(l.split(',')[2]) for l in (tmp_path/'own'/'assignments.csv').read_text().splitlines()[1:]}
    assert sum(got[k] == ref[k] for k in ref) >= 22

def test_damaged_cache_entry_is_rebuilt(tmp_path, cache, capfd):
    fit('ghdcc', out=tmp_path/'a', **FROZEN)
    f = max((cache/'features').iterdir(), key=lambda p: p.stat().st_size)
    f.write_bytes(f.read_bytes()[:1000])                      # a half-written file
    r = fit('ghdcc', out=tmp_path/'b', **FROZEN)
    err = capfd.readouterr().err
    lines = [l for l in err.splitlines() if 'damaged' in l]
    assert len(lines) == 1 and 'rebuilding' in lines[0] and 'Traceback' not in err
    assert r.learn.method.bank.views.shape[1] == 300
