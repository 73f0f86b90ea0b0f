"""`torch.compile` on the CPU: a method whose modules are compiled (backbone and heads, as `fit(compile=True)` does with
`Method.compile_modules`) trains two steps with the same losses as the uncompiled method. The "aot_eager" backend traces
forward and backward through AOTAutograd like inductor does, without inductor's C++ code generation (minutes on a
small CPU)."""
import pytest

from deepclust_nb.runs import ready_learner
from deepclust_nb.loop import forward_backward

def two_steps(method:str, how:str|None, **params) -> list:
    "Losses of the first two optimiser steps of `method` on 64 digits, compiled as `how` says (None: not compiled)."
    learn = ready_learner(method, 0, **{'dataset': 'digits', 'subset': 64, 'device': 'cpu', 'backbone': 'convnet',
                                        'seed': 0, 'batch_size': 32, **params})
    m = learn.method
    if how == 'modules': learn.compiled = m.compile_modules(backend='aot_eager')   # what fit(compile=True) does, with a CPU backend
    losses = []
    for gidx in learn.batches(0)[:2]:
        terms = forward_backward(learn, gidx)
        learn.opt.step(); m.after_step(learn)
        losses.append({k: float(v.detach()) for k, v in terms.items()})
    return losses

@pytest.mark.parametrize('method,params', [('dcsc', dict(feat_dim=16)), ('bscic', dict())])
def test_compiled_steps_match(method, params):
    ref, got = two_steps(method, None, **params), two_steps(method, 'modules', **params)
    how = method
    assert ref[0]['loss'] != ref[1]['loss']                         # the second step saw the first one's update
    for r, g in zip(ref, got):
        assert set(r) == set(g)
        for k in r: assert abs(r[k] - g[k]) <= 1e-4 * max(1., abs(r[k])), (how, k, r[k], g[k])

def test_fit_compile_on_the_cpu(tmp_path):
    "`fit(compile='aot_eager')` (`--compile aot_eager`) compiles on the CPU too and ends as the uncompiled run."
    from deepclust_nb.runs import fit
    kw = dict(dataset='digits', subset=64, device='cpu', backbone='convnet', batch_size=32, epochs=1, feat_dim=16,
              report=False, progress=False)
    ref = fit('dcsc', out=tmp_path/'ref', **kw)
    run = fit('dcsc', out=tmp_path/'c', compile='aot_eager', **kw)
    m = run.learn.method
    assert m.backbone._compiled_call_impl is not None and m.heads._compiled_call_impl is not None   # the modules really were
    assert m._compiled_call_impl is None                            # not the whole step: it draws random views, checks losses
    assert abs(run.history[0]['loss'] - ref.history[0]['loss']) <= 1e-4 * max(1., abs(ref.history[0]['loss']))
