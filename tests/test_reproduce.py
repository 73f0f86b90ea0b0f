"""`deepclust reproduce smoke` executes every method notebook with papermill at tiny scale (the digits, 2 epochs);
each run folder must hold a complete metrics file and a loss that fell; `deepclust report` then builds the table."""
import json
from pathlib import Path
import pytest, yaml
from deepclust_nb.plan import load_plan, expand_plan, reproduce, method_notebook
from deepclust_nb.cli import main

REQUIRED = {'method','dataset','split','n_images','image_size','backbone','pretrained','epochs','seed','device',
            'wall_time_s','command','acc','nmi','ari','n_clusters'}
PLAN = load_plan('smoke')
RUNS = expand_plan(PLAN)

@pytest.fixture(scope='module')
def smoke(tmp_path_factory):
    out = tmp_path_factory.mktemp('smoke')
    code = main(['reproduce', 'smoke', '--out', str(out), '--report'])
    return out, code

def test_smoke_plan_covers_every_method():
    from deepclust_nb.method import method_names
    assert {r.method for r in RUNS} == set(method_names(deep=False))      # every registered method, through '*'

@pytest.mark.parametrize('plan', ['smoke', 'cpu', 'frozen', 'gpu'])
def test_reference_plans_cover_every_method(plan):
    "The shipped reference plans list their methods through the registry: every deep method is in each (ICBPL's cpu rows are its frozen ones)."
    from deepclust_nb.method import method_names
    assert set(method_names()) <= {r.method for r in expand_plan(load_plan(plan))}

def test_smoke_plan_succeeds(smoke):
    out, code = smoke
    summary = json.loads((out/'plan-summary.json').read_text())
    assert code == 0 and not summary['failed'], summary['failed']

@pytest.mark.parametrize('name', [r.name for r in RUNS])
def test_run_folder_is_complete(smoke, name):
    out, _ = smoke
    run = out/name
    m = json.loads((run/'metrics.json').read_text())
    assert REQUIRED <= set(m), REQUIRED - set(m)
    assert 0 <= m['acc'] <= 1 and 0 <= m['nmi'] <= 1 and -1 <= m['ari'] <= 1
    assert m['command'] == f'deepclust reproduce smoke --only {name}' and m['plan'] == 'smoke'    # how to make it again
    assert (run/'notebook.ipynb').exists() and (run/'assignments.csv').exists()
    if m['epochs'] > 0:
        log = [json.loads(l) for l in (run/'log.jsonl').read_text().splitlines()]
        assert len(log) == m['epochs']
        assert log[-1]['loss'] < log[0]['loss'], [r['loss'] for r in log]   # the loss fell

def test_report_table(smoke):
    out, _ = smoke
    md = (out/'report.md').read_text()
    for r in RUNS: assert f"| {r.method} | digits" in md
    assert (out/'report.csv').exists() and (out/'report.png').exists()

def test_rerun_skips_finished_runs(smoke):
    out, _ = smoke
    s = reproduce('smoke', out=out, quiet=True)
    assert s['done'] == [] and len(s['skipped']) == len(RUNS) and not s['failed']

@pytest.mark.parametrize('method', sorted({r.method for r in RUNS}))
def test_parameters_cell_parses(method, caplog):
    "papermill reads every parameter of each method notebook (the batch runner and `papermill --help-notebook` rely on it)."
    import papermill as pm
    with caplog.at_level('WARNING'): params = pm.inspect_notebook(str(method_notebook(method)))
    assert {'dataset', 'seed', 'device', 'out_dir', 'extra'} <= set(params)
    assert not [r for r in caplog.records if 'Unable to parse' in r.getMessage()], caplog.text

@pytest.mark.parametrize('plan', sorted(p.stem for p in (Path(__file__).parents[1]/'deepclust_nb'/'plans').glob('*.yaml')))
def test_shipped_plan_is_valid(plan):
    "Every entry of every shipped plan names a registered method and only that method's hyper-parameters."
    from deepclust_nb.method import method_hp, load_methods
    load_methods()
    runs = expand_plan(load_plan(plan))
    assert runs and len({r.name for r in runs}) == len(runs)        # run folders never collide
    for r in runs:   # None is dropped by the notebook's parameter cell: the preset's value
        method_hp(r.method, dataset=r.dataset, seed=r.seed, **{k: v for k, v in r.params.items() if v is not None})

def test_a_new_method_is_in_every_registry_list():
    "A method registered anywhere (a notebook, a user's module) is in the plans, the paper table and the method table at once."
    import torch.nn as nn
    from deepclust_nb.method import Method, register_method, method_names, METHODS
    from deepclust_nb.results import paper_numbers, methods_markdown
    class Extra(Method):
        name, predicts, title = 'extra_method', 'head', 'a method added by a user'
        paper_results = {'cifar10': (.5, .4, .3)}
        defaults = dict(epochs=1)       # epochs
        def __init__(self, *a):
            super().__init__(*a); self.head = nn.Linear(4, self.n_clusters)
        def embed_h(self, h): return h.flatten(1)
        def probs_h(self, h): return self.head(h.flatten(1)).softmax(1)
        def step(self, xb, idx, learn): return dict(loss=self.probs(xb).sum())
    register_method(Extra)
    try:
        assert 'extra_method' in method_names()
        assert 'extra_method' in {r.method for r in expand_plan(load_plan('smoke'))}
        assert paper_numbers('extra_method', 'cifar10')[0] == (.5, .4, .3)
        assert '| `extra_method` | a method added by a user | – |' in methods_markdown()
    finally: METHODS.pop('extra_method')

def test_runs_in_parallel_record_their_command(tmp_path):
    "--jobs 2: each run in its own process (one thread each on 2 cores); each result file says how to make it alone."
    from deepclust_nb.core import DeepClustError
    plan = dict(name='par', source='par.yaml', device='cpu', entries=[dict(methods=['kmeans'], datasets=['digits'], seeds=[0, 1])])
    s = reproduce(plan, out=tmp_path/'runs', jobs=2, quiet=True, results=tmp_path/'res')
    assert sorted(s['done']) == ['kmeans-digits-s0', 'kmeans-digits-s1'] and not s['failed'], s
    for n in s['done']:
        m = json.loads((tmp_path/'res'/'kmeans'/f'{n}.json').read_text())
        assert m['command'] == f'deepclust reproduce par.yaml --only {n}' and m['plan'] == 'par' and m['seed'] == int(n[-1])
    assert reproduce(plan, out=tmp_path/'runs', jobs=2, quiet=True)['skipped'] == ['kmeans-digits-s0', 'kmeans-digits-s1']
    # a second plan into the same folder keeps its own plan file: the first's processes never read the second's plan
    other = dict(name='par2', source='par2.yaml', device='cpu', entries=[dict(methods=['kmeans'], datasets=['digits'], seeds=[2])])
    assert reproduce(other, out=tmp_path/'runs', jobs=2, quiet=True)['done'] == ['kmeans-digits-s2']
    assert yaml.safe_load((tmp_path/'runs'/'plan-par.yaml').read_text())['name'] == 'par'
    assert yaml.safe_load((tmp_path/'runs'/'plan-par2.yaml').read_text())['name'] == 'par2'
    with pytest.raises(DeepClustError, match='has no run kmeans-digits-s7'): reproduce(plan, out=tmp_path/'runs', only=['kmeans-digits-s7'])

def test_ablation_plan_runs_each_row_once():
    "The shipped ablation plan: every method with an ablation_setup, 3 seeds a row, no run repeating a preset row."
    from deepclust_nb.method import method_names, get_method
    runs = expand_plan(load_plan('ablations'))
    with_setup = {m for m in method_names() if getattr(get_method(m), 'ablation_setup', None)}
    assert with_setup and {r.method for r in runs} == with_setup
    rows = {}
    for r in runs: rows.setdefault((r.method, r.dataset, r.tag), []).append(r.seed)
    assert all(sorted(v) == [0, 1, 2] for v in rows.values()), rows
    # every run names its epochs (None: the preset's); without it the notebook's short reading default would apply
    assert all('epochs' in r.params for r in runs)
    params = [(r.method, r.dataset, tuple(sorted(r.params.items()))) for r in runs if r.seed == 0]
    assert len(params) == len(set(params))               # two rows with the same switches are one run
