"""`torch.compile` on the CPU: a compiled method (the whole training step, as `fit(compile=True)` compiles it, or its
modules one by one) trains two steps with the same losses as the uncompiled method. The "aot_eager" backend traces
forward and backward through AOTAutograd like inductor does, without inductor's C++ code generation (minutes on a
small CPU)."""
import pytest
import torch

from deepclust_nb.core import seed_everything
from deepclust_nb.learner import method_hp, get_method, Learner, load_data, forward_backward, _make_optimizer, _n_clusters

def two_steps(method:str, how:str|None, **params) -> list:
    "Losses of the first two optimiser steps of `method` on 64 digits, compiled as `how` says (None: not compiled)."
    hp = method_hp(method, **{'progress': False, 'dataset': 'digits', 'subset': 64, 'device': 'cpu', 'backbone': 'convnet',
                              'seed': 0, 'batch_size': 32, **params})
    seed_everything(hp['seed'])
    data = load_data(hp)
    m = get_method(method)(hp, _n_clusters(hp, data), data.channels, data.image_size)
    learn = Learner(m, data, hp)
    learn.opt = _make_optimizer(hp, m.param_groups())
    m.prepare_features(learn); m.setup(learn)
    if how == 'method': m.compile(backend='aot_eager')           # what fit(compile=True) does, with a CPU backend
    elif how == 'modules':
        for c in m.children(): c.compile(backend='aot_eager')
    torch.manual_seed(0); learn.gen.manual_seed(0)
    m.train(); m.on_epoch_start(learn, 0)
    losses = []
    for gidx in learn.batches(0)[:2]:
        terms = forward_backward(learn, gidx)
        learn.opt.step(); m.after_step(learn)
        losses.append({k: float(v.detach()) for k, v in terms.items()})
    return losses

@pytest.mark.parametrize('how', ['method', 'modules'])
def test_compiled_steps_match(how):
    ref, got = two_steps('dcsc', None, feat_dim=16), two_steps('dcsc', how, feat_dim=16)
    assert ref[0]['loss'] != ref[1]['loss']                         # the second step saw the first one's update
    for r, g in zip(ref, got):
        assert set(r) == set(g)
        for k in r: assert abs(r[k] - g[k]) <= 1e-4 * max(1., abs(r[k])), (how, k, r[k], g[k])

def test_fit_compile_on_the_cpu(tmp_path):
    "`fit(compile='aot_eager')` (`--compile aot_eager`) compiles on the CPU too and ends as the uncompiled run."
    from deepclust_nb.learner import fit
    kw = dict(dataset='digits', subset=64, device='cpu', backbone='convnet', batch_size=32, epochs=1, feat_dim=16,
              report=False, progress=False)
    ref = fit('dcsc', out=tmp_path/'ref', **kw)
    run = fit('dcsc', out=tmp_path/'c', compile='aot_eager', **kw)
    assert run.learn.method._compiled_call_impl is not None        # the method really was compiled
    assert abs(run.history[0]['loss'] - ref.history[0]['loss']) <= 1e-4 * max(1., abs(ref.history[0]['loss']))
