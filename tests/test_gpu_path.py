"""The GPU path's logic, checked on the CPU: a training step never waits for the device (no value read back, no tensor
built from Python data) between loss checks, in every stage of every method, on gray and colour images; fused
optimisers and the cuDNN/TF32 switches; BSC-IC's critic loss checked before its step; GHDCC's graph in float32
under autocast."""
from types import SimpleNamespace
import pytest
import torch

from deepclust_nb.checks import step_syncs, SyncCounter
from deepclust_nb.images import ImageData
from deepclust_nb.method import method_names, get_method, method_hp, load_methods
from deepclust_nb.runs import ready_learner
from deepclust_nb.loop import forward_backward
from deepclust_nb.engine import NonFiniteLoss, optimizer_kwargs, cuda_settings

load_methods()

def _stages(name, **params):
    "The first epoch of each of the method's stages under the cpu preset (0, then e.g. NNCC's pretrain_epochs)."
    cls, hp = get_method(name), method_hp(name, preset='cpu', device='cpu', **params)
    return sorted({0} | {hp[s] for s, _ in cls.paper_stages.values() if isinstance(s, str) and isinstance(hp.get(s), int)})

def _colour(n=64, size=16):
    g = torch.Generator().manual_seed(0)
    return ImageData(torch.randint(0, 256, (n, 3, size, size), generator=g, dtype=torch.uint8),
                     torch.arange(n) % 4, [str(i) for i in range(4)], 'colour')

CASES = [(m, e, c) for m in method_names() for c in ('gray', 'colour')
         for e in _stages(m, **({'finetune': 'all'} if m == 'icbpl' else {}))]

@pytest.mark.parametrize('method,epoch,images', CASES, ids=[f'{m}-e{e}-{c}' for m, e, c in CASES])
def test_step_never_waits_for_the_device(method, epoch, images):
    kw = dict(finetune='all') if method == 'icbpl' else {}       # the whole network trains: the backbone's path too
    if images == 'colour': kw.update(data=_colour(), n_clusters=4)
    r = step_syncs(method, epoch, steps=4, **kw)
    assert r['per_step'] <= 0.25, f"{method} epoch {epoch} ({images}): {r['per_step']} host syncs per step at {r['sites']}"

def test_the_counter_sees_what_it_should():
    x = torch.randn(4)
    with SyncCounter() as c:
        torch.tensor([1., 2.]); float(x.sum()); bool(x[0] > 0); x[x > 0]; x.max().item(); torch.tensor(x.tolist())
        torch.zeros(3) + 1; x @ x        # device-side work: not counted
    assert c.hits == {'from_python': 2, '__float__': 1, '__bool__': 1, 'bool_index': 1, 'item': 1, 'tolist': 1}, c.hits

def test_fused_optimisers_on_cuda_only():
    hp = dict(fused=True)
    on_gpu = [SimpleNamespace(is_cuda=True)] * 2
    assert optimizer_kwargs(hp, on_gpu) == dict(fused=True)
    assert optimizer_kwargs(dict(fused=False), on_gpu) == {}
    assert optimizer_kwargs(hp, on_gpu, capturable=True) == dict(capturable=True, foreach=True)
    assert optimizer_kwargs(hp, [torch.nn.Parameter(torch.zeros(2))]) == {}     # the CPU: PyTorch's default, results unchanged

def test_cuda_settings_set_and_restore():
    b = torch.backends
    was = (b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32)
    with cuda_settings(dict(cudnn_benchmark=True, tf32=True), cuda=True):
        assert (b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32) == (True, True, True)
    assert (b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32) == was
    with cuda_settings(dict(cudnn_benchmark=False, tf32=False), cuda=True):
        assert (b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32) == (False, False, False)
    with cuda_settings(dict(cudnn_benchmark=True, tf32=True), cuda=False):     # not on CUDA: nothing changes
        assert (b.cudnn.benchmark, b.cuda.matmul.allow_tf32, b.cudnn.allow_tf32) == was

def test_bscic_critic_loss_checked_before_its_step():
    learn = ready_learner('bscic', dataset='digits', subset=64, batch_size=32, backbone='convnet', preset='cpu', device='cpu',
                          gp_weight=float('inf'))
    m = learn.method
    before = [p.detach().clone() for p in m.critic.parameters()]
    with pytest.raises(NonFiniteLoss, match='loss term critic'):
        forward_backward(learn, learn.batches(0)[0], check=True)
    assert all(torch.equal(a, p) for a, p in zip(before, m.critic.parameters()))     # the bad critic step was not applied
    assert not m.critic_opt.state

def test_ghdcc_graph_in_float32_under_autocast():
    learn = ready_learner('ghdcc', dataset='digits', subset=64, batch_size=32, backbone='convnet', preset='cpu', device='cpu', amp='bf16')
    m = learn.method.eval()
    f = torch.randn(48, m.backbone.out_dim)
    with torch.no_grad():
        z0, y0 = m.graph_heads(m.project(f), 3)
        with torch.autocast('cpu', dtype=torch.bfloat16):
            h = m.project(f)
            z1, y1 = m.graph_heads(h, 3)
    assert h.dtype == z1.dtype == y1.dtype == torch.float32
    assert torch.allclose(z0, z1, atol=1e-6) and torch.allclose(y0, y1, atol=1e-6)

def test_steady_rate_leaves_out_the_warm_up():
    from deepclust_nb.loop import steady_rate
    ticks = [(0, 0.), (1, 5.), (2, 6.), (3, 7.), (4, 9.)]       # the first interval (5 s) holds the warm-up
    assert steady_rate(ticks, 10) == pytest.approx(10.)        # median of 10, 10, 5 img/s: the first interval left out
    assert steady_rate([(0, 0.), (2, 4.)], 10) == pytest.approx(5.)   # one interval: it is all there is
    assert steady_rate([(3, 1.)], 10, fallback=7.) == 7.                # no interval: the epoch's own rate
    assert steady_rate([(0, 0.), (0, 1.), (1, 2.)], 4) == pytest.approx(4.)   # two checks in one step: no interval

def test_bscic_graphed_step_equals_the_plain_one():
    "`cuda_graph`: the step `GraphedStep` captures on CUDA is the plain step; on the CPU it runs uncaptured, 10 steps to 1e-6."
    from deepclust_nb.runs import fit
    kw = dict(dataset='digits', subset=320, batch_size=32, epochs=1, backbone='convnet', preset='cpu', device='cpu',
              progress=False, report=False, eval_every=0)
    a, b = fit('bscic', out=False, **kw), fit('bscic', out=False, cuda_graph=True, **kw)
    assert b.learn.graphed is not None and b.learn.graphed.steps == a.learn.iter == 10
    sa, sb = a.learn.method.state_dict(), b.learn.method.state_dict()
    assert sa.keys() == sb.keys()
    for k in sa:
        if sa[k].numel(): assert torch.allclose(sa[k].float(), sb[k].float(), atol=1e-6), k   # online, target, critic
    for k in a.history[0]:
        if k not in ('seconds', 'img_per_s', 'view_img_per_s', 'steady_img_per_s'):
            assert a.history[0][k] == pytest.approx(b.history[0][k], abs=1e-6), k

def test_cuda_graph_refuses_what_it_cannot_capture():
    from deepclust_nb.runs import fit
    from deepclust_nb.core import DeepClustError
    kw = dict(dataset='digits', subset=64, batch_size=32, epochs=1, backbone='convnet', preset='cpu', device='cpu',
              progress=False, report=False)
    with pytest.raises(DeepClustError, match='not marked graph_capturable'): fit('dcsc', out=False, cuda_graph=True, **kw)
    with pytest.raises(DeepClustError, match='schedule none'): fit('bscic', out=False, cuda_graph=True, schedule='cosine', **kw)

def test_bscic_views_pass_one_at_a_time():
    "The online and target networks see each view in its own pass: one pass over both views would pool BatchNorm's statistics."
    learn = ready_learner('bscic', dataset='digits', subset=64, batch_size=32, backbone='convnet', preset='cpu', device='cpu')
    m = learn.method.train()
    xb = learn.to_float(learn.x[:32])
    ha, hb = m.views.many(xb, 2, learn.gen).chunk(2)
    with torch.no_grad():
        per_view = torch.cat([m.online(ha), m.online(hb)])
        joint = m.online(torch.cat([ha, hb]))
    assert not torch.allclose(per_view, joint, atol=1e-4)       # so the step keeps its per-view passes
