"""What a run records: `curves.png` draws loss terms on the loss axis and nothing else (throughput, evaluation sizes,
a stop position, a method's diagnostic shares go elsewhere or nowhere)."""
from deepclust_nb.method import get_method, load_methods

load_methods()

def test_curves_plot_only_loss_terms():
    "An epoch record's other keys (throughput, eval_images, stopped_at, n_clusters_used) never appear as a loss curve."
    import matplotlib; matplotlib.use('Agg')
    from deepclust_nb.runs import plot_history
    from deepclust_nb.method import RECORD_KEYS
    hist = [dict(epoch=e, loss=1. / e, ins=.5 / e, lr=1e-3, seconds=2., img_per_s=900., view_img_per_s=1800.,
                 steady_img_per_s=950., eval_images=10000, n_clusters_used=10, acc=.5 + .1 * e) for e in (1, 2, 3)]
    fig = plot_history(hist)
    labels = {l.get_label() for l in fig.axes[0].get_lines()}
    assert labels == {'loss', 'ins'}, labels
    assert {l.get_label() for l in fig.axes[1].get_lines()} == {'acc'}
    assert {'eval_images', 'stopped_at', 'steady_img_per_s'} <= set(RECORD_KEYS)

def test_curves_draw_diagnostics_with_the_metrics():
    "A method's logged shares (NNCC's FINCH precisions) go on the metrics panel, not the loss axis; a term that starts in a later stage is plotted."
    import matplotlib; matplotlib.use('Agg')
    from deepclust_nb.runs import plot_history
    hist = [dict(epoch=1, loss=3., simclr=3., finch_precision=.9, acc=.5), dict(epoch=2, loss=2., nncc=2., finch_precision=.92, acc=.6)]
    fig = plot_history(hist, diagnostics=get_method('nncc').diagnostic_terms)
    assert {l.get_label() for l in fig.axes[0].get_lines()} == {'loss', 'simclr', 'nncc'}
    assert {l.get_label() for l in fig.axes[1].get_lines()} == {'acc', 'finch_precision'}

def test_reference_results_record_the_whole_method():
    """Every committed reference run (`results/cpu`, `results/frozen`) says how it was made: its resolved settings (`hp`),
    no term switched off, a protocol note beside the paper's, and at most 20 minutes of training on the CPU cores."""
    import json
    from pathlib import Path
    root = Path(__file__).parents[1]/'results'
    files = sorted(f for d in ('cpu', 'frozen') for f in (root/d).glob('*.json'))
    assert any(f.parent.name == 'cpu' for f in files) and any(f.parent.name == 'frozen' for f in files)
    for f in files:
        m = json.loads(f.read_text())
        assert isinstance(m.get('hp'), dict) and m['hp'].get('method') == m['method'], f"{f}: no resolved settings (hp)"
        assert m.get('terms_off') == [], f"{f}: a reference run switches {m.get('terms_off')} off; only an ablation row may"
        assert m.get('protocol'), f"{f}: no protocol note (the paper's set-up beside this run's)"
        if m.get('device') == 'cpu' and m['method'] != 'kmeans':
            assert m['train_seconds'] <= 20 * 60, f"{f}: {m['train_seconds'] / 60:.1f} min of training, over the 20-minute budget"
