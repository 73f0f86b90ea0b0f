"""A preset is the method: every registered method declares its paper's loss terms and stages (`paper_terms`,
`paper_stages`), each preset keeps all of them (`objective_gaps` is empty), and a short run of the cpu preset records
every one of them. An ablation row switches a term off on purpose; a preset never does."""
import pytest
from deepclust_nb.runs import fit
from deepclust_nb.method import get_method, method_hp, method_names, objective_gaps, recorded_terms
from deepclust_nb.hparams import PRESETS

DEEP = method_names()          # every registered method but the k-means floor

@pytest.mark.parametrize('method', DEEP)
def test_each_method_declares_its_paper_terms(method):
    cls = get_method(method)
    assert cls.paper_terms, f"{method} declares no paper_terms: name each loss term of the paper and the setting that switches it off"
    for t, s in cls.paper_terms.items():
        assert s is None or callable(s) or s in cls.defaults, f"{method}: the switch {s!r} of term {t} is not a setting"

@pytest.mark.parametrize('preset', PRESETS)
@pytest.mark.parametrize('method', DEEP)
def test_every_preset_runs_the_whole_method(method, preset):
    gaps = objective_gaps(get_method(method), method_hp(method, preset=preset))
    assert gaps == [], f"the {preset} preset of {method} leaves out {gaps}: a preset may scale the budget, not drop a term"

def _stage_budget(cls) -> dict:
    "The shortest run that reaches every stage: one epoch per stage whose switch is a number of epochs."
    over = {s: 1 for s, _ in cls.paper_stages.values() if isinstance(s, str)}
    return dict(over, epochs=len(over) + 1) if over else dict(epochs=1)

@pytest.mark.parametrize('method', DEEP)
def test_a_cpu_run_records_every_term_and_stage(method):
    cls = get_method(method)
    over = dict(dataset='digits', subset=150, preset='cpu', out=False, progress=False, report=False, eval_every=0,
                **_stage_budget(cls))
    if method == 'icbpl': over.update(feature_views=2, input_size=32)       # frozen features of a small input: seconds
    run = fit(method, **over)
    seen = {k for rec in run.history for k in rec}
    missing = recorded_terms(cls, method_hp(method, **{k: v for k, v in over.items() if k != 'out'})) - seen
    assert not missing, f"a cpu run of {method} recorded no {sorted(missing)} (it recorded {sorted(seen)})"
    assert run.metrics['terms_off'] == [] and run.metrics['hp']['method'] == method
    assert set(run.metrics['final_terms']) >= {'loss'}
