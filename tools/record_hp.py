"""Add the resolved settings (`hp`), the paper terms they left out (`terms_off`) and the preset they came from
(`preset_values`) to result files written before
runs recorded them. The settings are rebuilt from the fit command each file records, with the presets as they were
when the file was made (`PRESETS_BEFORE`: the cpu presets up to commit 1c3dd17, which switched terms off).

    python tools/record_hp.py results          # rewrites only files without `hp`; prints what it did
"""
import json, shlex, sys
from pathlib import Path
from deepclust_nb.cli import parse_fit_args
from deepclust_nb.core import atomic_save_json
from deepclust_nb.method import get_method, method_hp, objective_gaps

BEFORE = '1c3dd17'
PRESETS_BEFORE = {   # the cpu presets of the methods whose preset changed after BEFORE
    'bscic': dict(backbone='convnet_s', epochs=20, lr=1e-3, views='auto', use_mi=False, use_si=False),
    'icbpl': dict(finetune='none', epochs=100, bt_epochs=0, input_size=None, feature_views=2, use_mincos=False, eval_every=10),
    'dcsc': dict(backbone='convnet_s', image_size=None, overcluster=0, epochs=20, batch_size=64, lr=1e-3, slc_sim='cos', tau_slc=0.2),
    'ghdcc': dict(backbone='convnet_s', image_size=None, predict='argmax', epochs=20, lr=1e-3, knn_k=3),
}

def fit_command(m:dict) -> str|None:
    "The `deepclust fit` command a result file records (the notebook's, for a plan run)."
    for k in ('notebook_command', 'command'):
        c = m.get(k) or ''
        if c.startswith('deepclust fit '): return c
    return None

def rebuilt_hp(m:dict) -> dict:
    "The settings of result `m`, from its fit command and the presets of its time (a file with `hp` keeps it)."
    if 'hp' in m: return m['hp']
    ctl, params = parse_fit_args(shlex.split(fit_command(m))[2:])
    method = ctl['method'] or m['method']
    cls = get_method(method)
    saved = cls.presets
    if method in PRESETS_BEFORE: cls.presets = {**saved, 'cpu': PRESETS_BEFORE[method]}
    try: return method_hp(method, **params)
    finally: cls.presets = saved

def main(root):
    done = skipped = 0
    for p in sorted(Path(root).rglob('*.json')):
        try: m = json.loads(p.read_text())
        except ValueError: continue
        if not isinstance(m, dict) or 'method' not in m or ('hp' in m and 'preset_values' in m): continue
        if fit_command(m) is None: print(f"skipped {p}: no fit command"); skipped += 1; continue
        try: hp = rebuilt_hp(m)
        except Exception as e: print(f"skipped {p}: {e}"); skipped += 1; continue
        was = PRESETS_BEFORE.get(hp['method']) if hp['preset'] == 'cpu' else None
        if 'hp' not in m: m['hp_source'] = f"rebuilt from the fit command with the presets of {BEFORE}"
        m.update(hp=hp, terms_off=objective_gaps(get_method(hp['method']), hp),
                 preset_values=was if was is not None else get_method(hp['method']).presets.get(hp['preset'], {}))
        atomic_save_json(p, m); done += 1
    print(f"{done} result files given their settings, {skipped} skipped")

if __name__ == '__main__': main(sys.argv[1] if len(sys.argv) > 1 else 'results')
