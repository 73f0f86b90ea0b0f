"""Each method's paper preset is its paper: every row of its `paper_trace` equals the preset's value, every key the
preset changes from COMMON has a row, and every quote occurs in the paper's text (line breaks and hyphenation aside)."""
import os
from pathlib import Path
import pytest
from deepclust_nb.core import quote_in_text
from deepclust_nb.hparams import COMMON
from deepclust_nb.method import get_method, preset_defaults, method_hp, method_names, missing_help
from deepclust_nb.hparams import coerce_param

ROOT = Path(__file__).resolve().parents[1]
PAPERS = Path(os.environ.get('DEEPCLUST_PAPERS') or ROOT.parent/'shared'/'papers')
METHODS = method_names()        # every registered deep method

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
    files = [PAPERS/f for f in ([cls.paper] if cls.paper else cls.quoted_papers)]   # CC: quoted from DCSC's and GHDCC's papers
    assert files, f"{name} names no paper to quote from (paper or quoted_papers)"
    if not all(f.exists() for f in files): pytest.skip(f'{files} not found (DEEPCLUST_PAPERS)')
    text = '\n'.join(f.read_text() for f in files)
    missing = [(k, q) for k, q, *_ in cls.paper_trace if not q.startswith('decided:') and not quote_in_text(q, text)]
    assert missing == []
    # a decided row that cites a figure or table of the paper cites one the paper has (the NNCC row once named a Fig. 5)
    import re
    cited = [(k, ref) for k, q, _, note in cls.paper_trace for ref in re.findall(r'(?:Fig\.|Table) \d+', q + ' ' + note)]
    assert [(k, ref) for k, ref in cited if ref not in text] == []
    assert not quote_in_text('the number of clusters for Tiny-ImageNet to 7000', text)   # the look-up can fail

def test_the_reading_fixed():
    "The differences a reading found between the papers and the presets, each pinned."
    d = lambda m: preset_defaults(m, 'paper')
    assert d('dcsc')['overcluster'] == 70 and d('dcsc')['image_size'] == 224
    assert d('ghdcc')['predict'] == 'kmeans'
    assert d('icbpl')['bt_epochs'] > 0 and d('icbpl')['input_size'] == 224 and d('icbpl')['finetune'] == 'all'
    assert d('icbpl')['epochs'] - d('icbpl')['bt_epochs'] == 400
    cpu = lambda m: preset_defaults(m, 'cpu')       # the cpu presets keep the data set's own size and every stage and term
    assert cpu('dcsc')['image_size'] is None and cpu('dcsc')['overcluster'] == 70
    assert 0 < cpu('icbpl')['bt_epochs'] < cpu('icbpl')['epochs'] and cpu('icbpl')['input_size'] is None and cpu('icbpl')['use_mincos']

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

@pytest.mark.parametrize('name', method_names(deep=False))
def test_every_parameter_has_help(name):
    "Every parameter of every registered method has help text (`deepclust list --params`): a comment beside it in `defaults`."
    assert missing_help(name) == [], f"{name}: no help text for {missing_help(name)}: add a comment beside each key of defaults"

@pytest.mark.parametrize('name', method_names(deep=False))
def test_numeric_defaults_parse_from_the_command_line(name):
    "Every numeric setting takes an integer, a decimal and 'none' from the command line, whatever its default's literal type."
    hp = preset_defaults(name, 'paper')
    for k, v in hp.items():
        if isinstance(v, bool) or not isinstance(v, (int, float)): continue
        assert coerce_param('0.5', v) == 0.5 and coerce_param('3', v) == 3 and coerce_param('none', v) is None, k
        assert coerce_param('1e-3', v) == 1e-3, k

@pytest.mark.parametrize('name', [m for m in METHODS if getattr(get_method(m), 'paper_ablations', None)])
def test_paper_ablations_are_the_papers(name):
    "Each row of a paper's ablation table stored on the class: its line occurs in the paper, and its switches are valid settings."
    cls = get_method(name)
    for r in cls.paper_ablations:
        assert set(r) - {'trend'} == {'table', 'row', 'params', 'dataset', 'paper', 'quote'} and len(r['paper']) == 3, r
        assert r['paper'][0] is not None or r.get('trend') in (-1, 1) or r['params'] == {}, r   # a plotted row states its direction
        if r['params'] is not None: method_hp(name, **r['params'])
    f = PAPERS/cls.paper
    if not f.exists(): pytest.skip(f'{f} not found (DEEPCLUST_PAPERS)')
    text = f.read_text()
    assert [r['row'] for r in cls.paper_ablations if not quote_in_text(r['quote'], text)] == []
