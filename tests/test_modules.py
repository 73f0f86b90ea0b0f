"""The package's layout: no import cycle at module level, no module much over 400 lines, and the old import paths
(`learner`, `reproduce`, `data`) still answer with every public name of the modules they were split into."""
import importlib, sys
from pathlib import Path
import pytest
ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT/'tools'))
import import_graph

def test_no_import_cycle():
    g = import_graph.graph()
    assert 'deepclust_nb.runs' in g and 'deepclust_nb.engine' in g['deepclust_nb.loop']      # the graph is read
    assert import_graph.cycles(g) == []

def test_cycles_are_found():
    assert import_graph.cycles({'a': {'b'}, 'b': {'c'}, 'c': {'a'}}) == [['a', 'b', 'c', 'a']]

def test_module_sizes():
    sizes = {p.name: len(p.read_text().splitlines()) for p in (ROOT/'deepclust_nb').rglob('*.py') if p.name != '_modidx.py'}
    assert max(sizes.values()) <= 450, sorted(sizes.items(), key=lambda kv: -kv[1])[:3]

@pytest.mark.parametrize('old,new', [('learner', ['hparams', 'method', 'engine', 'checkpoint', 'loop', 'runs']),
                                     ('reproduce', ['plan', 'results', 'ablations']),
                                     ('data', ['images'])])
def test_old_paths_re_export(old, new):
    o = importlib.import_module(f'deepclust_nb.{old}')
    for m in new:
        mod = importlib.import_module(f'deepclust_nb.{m}')
        for n in mod.__all__:
            assert getattr(o, n) is getattr(mod, n), f'deepclust_nb.{old}.{n}'
            assert n in o.__all__, n
