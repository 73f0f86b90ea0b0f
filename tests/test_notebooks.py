"""The method notebooks and the index are committed with their outputs, so a reader on a code host sees the figures and
the results; each stays small; nbdev's clean step keeps the outputs."""
import json, shutil, subprocess, sys
from pathlib import Path
import pytest

ROOT = Path(__file__).resolve().parents[1]
METHOD_NBS = sorted((ROOT/'nbs').glob('3*_methods.*.ipynb'))

def outputs(nb):
    for c in nb['cells']:
        if c['cell_type'] == 'code': yield from c.get('outputs', [])

def has_figure(nb): return any('image/png' in o.get('data', {}) for o in outputs(nb))
def has_results_table(nb):
    return any('| method | data set |' in ''.join(o.get('data', {}).get('text/markdown', '')) for o in outputs(nb))

def test_every_registered_method_has_a_notebook():
    "One notebook per registered method and one registered method per notebook (the registry is the list)."
    from deepclust_nb.method import method_names
    assert {p.name.split('.')[1] for p in METHOD_NBS} == set(method_names(deep=False))

@pytest.mark.parametrize('path', METHOD_NBS + [ROOT/'nbs'/'index.ipynb'], ids=lambda p: p.name)
def test_notebook_carries_its_outputs(path):
    nb = json.loads(path.read_text())
    assert path.stat().st_size < 1_000_000, f"{path.name} is {path.stat().st_size/1e6:.2f} MB: keep it under 1 MB"
    assert has_figure(nb), f"{path.name} has no figure among its outputs: run it and save it with its outputs"
    assert has_results_table(nb), f"{path.name} shows no results table: run it and save it with its outputs"
    errors = [o for o in outputs(nb) if o.get('output_type') == 'error']
    assert not errors, f"{path.name} was saved with an error output: {errors[0].get('ename')}"

def test_nbdev_clean_keeps_outputs(tmp_path):
    src = METHOD_NBS[0]
    shutil.copytree(ROOT/'nbs', tmp_path/'nbs', ignore=shutil.ignore_patterns('*.ipynb'))
    shutil.copy(ROOT/'settings.ini', tmp_path/'settings.ini')
    dst = tmp_path/'nbs'/src.name; shutil.copy(src, dst)
    r = subprocess.run([sys.executable, '-m', 'nbdev.clean', '--fname', str(dst)], cwd=tmp_path, capture_output=True, text=True)
    if r.returncode != 0:   # older nbdev has no module entry point: the console script
        r = subprocess.run([str(Path(sys.executable).parent/'nbdev_clean'), '--fname', str(dst)], cwd=tmp_path, capture_output=True, text=True)
    assert r.returncode == 0, r.stderr
    assert has_figure(json.loads(dst.read_text())) and has_results_table(json.loads(dst.read_text()))

@pytest.mark.parametrize('path', [p for p in METHOD_NBS if 'kmeans' not in p.name], ids=lambda p: p.name)
def test_demo_ran_the_whole_method(path):
    "The committed demo passed `check_demo`: its log held every term and stage the method declares (the cell's output is its list)."
    nb = json.loads(path.read_text())
    cells = [c for c in nb['cells'] if c['cell_type'] == 'code' and 'check_demo(run)' in ''.join(c['source'])]
    assert len(cells) == 1, f"{path.name}: the demo is not followed by check_demo(run)"
    outs = [''.join(o.get('data', {}).get('text/plain', '')) for o in cells[0].get('outputs', []) if o.get('output_type') == 'execute_result']
    assert outs and "'terms'" in outs[0] and "'stages'" in outs[0], f"{path.name}: run it and save it with check_demo's output"

sys.path.insert(0, str(ROOT/'tools'))
import nb_cells   # noqa: E402

@pytest.mark.parametrize('path', [p for p in METHOD_NBS if 'kmeans' not in p.name], ids=lambda p: p.name)
def test_lesson_then_appendix_no_long_cell(path):
    "A method notebook is a lesson, then `## Appendix: the audit` (folded into a page of its own by the docs); no cell of 40 lines or more."
    parts = nb_cells.parts(path)
    assert parts['appendix'], f"{path.name}: no '## Appendix' cell: the audit (paper trace, checks, ablation machinery) goes after it"
    for part, cells in parts.items():
        m = nb_cells.measure(cells)
        assert m['longest_code'] < 40 and m['longest_prose'] < 40, (path.name, part, m)
    lesson = ''.join(''.join(c['source']) for c in parts['lesson'])
    assert 'paper_trace_markdown' not in lesson and 'check_resume(' not in lesson, f"{path.name}: audit cells in the lesson"

def test_long_cells_are_found():
    cells = [dict(cell_type='code', source=['x = 1\n'] * 40), dict(cell_type='markdown', source=['a\n'] * 3)]
    assert nb_cells.measure(cells) == dict(cells=2, code_lines=40, prose_lines=3, longest_code=40, longest_prose=3)
