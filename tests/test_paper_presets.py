"""Each method's paper preset is its paper: every row of its `paper_trace` equals the preset's value, every key the
preset changes from COMMON has a row, and every quote occurs in the paper's text (line breaks and hyphenation aside)."""
import os
from pathlib import Path
import pytest
from deepclust_nb.core import quote_in_text
from deepclust_nb.learner import COMMON, get_method, load_methods, preset_defaults, method_hp

ROOT = Path(__file__).resolve().parents[1]
PAPERS = Path(os.environ.get('DEEPCLUST_PAPERS') or ROOT.parent/'shared'/'papers')
METHODS = ['icbpl', 'dcsc', 'ghdcc', 'bscic', 'nncc']
load_methods()

@pytest.mark.parametrize('name', METHODS)
def test_trace_is_the_preset(name):
    cls = get_method(name)
    paper = preset_defaults(name, 'paper')
    keys = [k for k, *_ in cls.paper_trace]
    assert len(keys) == len(set(keys)), 'a setting traced twice'
    for k, quote, value, note in cls.paper_trace:
        assert k in paper, k
        assert paper[k] == value and type(paper[k]) is type(value), (k, paper[k], value)
        assert quote.strip() and isinstance(note, str)
    assert [k for k, v in cls.defaults.items() if (k not in COMMON or COMMON[k] != v) and k not in keys] == []

@pytest.mark.parametrize('name', METHODS)
def test_quotes_are_in_the_paper(name):
    cls = get_method(name)
    f = PAPERS/cls.paper
    if not f.exists(): pytest.skip(f'{f} not found (DEEPCLUST_PAPERS)')
    text = f.read_text()
    missing = [(k, q) for k, q, *_ in cls.paper_trace if not q.startswith('decided:') and not quote_in_text(q, text)]
    assert missing == []
    assert not quote_in_text('the number of clusters for Tiny-ImageNet to 7000', text)   # the look-up can fail

def test_the_reading_fixed():
    "The differences a reading found between the papers and the presets, each pinned."
    d = lambda m: preset_defaults(m, 'paper')
    assert d('dcsc')['overcluster'] == 70 and d('dcsc')['image_size'] == 224
    assert d('ghdcc')['predict'] == 'kmeans'
    assert d('icbpl')['bt_epochs'] > 0 and d('icbpl')['input_size'] == 224 and d('icbpl')['finetune'] == 'all'
    assert d('icbpl')['epochs'] - d('icbpl')['bt_epochs'] == 400
    cpu = lambda m: preset_defaults(m, 'cpu')       # the cpu presets keep the data set's own size and their measured settings
    assert cpu('dcsc')['image_size'] is None and cpu('dcsc')['overcluster'] == 0
    assert cpu('icbpl')['bt_epochs'] == 0 and cpu('icbpl')['input_size'] is None and cpu('ghdcc')['predict'] == 'argmax'

def test_icbpl_paper_input_is_224():
    "The paper preset's pretrained backbone resizes 32-px images to 224 on the device; the cpu preset keeps 3·32 = 96."
    pytest.importorskip('efficientnet_lite_pytorch')
    from deepclust_nb.methods.icbpl import ICBPL
    from deepclust_nb.backbones import Resize
    sizes = {}
    for preset in ('paper', 'cpu'):
        hp = method_hp('icbpl', preset=preset, dataset='cifar10')
        m = ICBPL(hp, 10, 3, 32)
        sizes[preset] = [mod.size for mod in m.backbone.modules() if isinstance(mod, Resize)]
    assert sizes == {'paper': [224], 'cpu': [96]}
