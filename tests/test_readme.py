"README.md is generated from nbs/index.ipynb and states the three commands."
import subprocess, sys
from pathlib import Path
ROOT = Path(__file__).resolve().parents[1]

def test_readme_matches_index_notebook():
    r = subprocess.run([sys.executable, 'tools/make_readme.py', '--check'], cwd=ROOT, capture_output=True, text=True)
    assert r.returncode == 0, r.stdout + r.stderr

def test_readme_commands_are_the_ones_ci_runs():
    text = (ROOT/'README.md').read_text()
    ci = (ROOT/'.ci'/'run').read_text()
    assert 'pip install -r requirements/ci.txt -e ".[dev]"' in text and 'pip install -q -r requirements/ci.txt -e ".[dev]"' in ci
    assert 'bash tools/test.sh' in text and 'bash tools/test.sh' in ci
    assert 'deepclust fit --method kmeans --dataset digits' in text

def test_readme_tables_come_from_committed_result_files(tmp_path):
    "The README's results and speed tables equal what `deepclust report results` makes from the files in results/."
    from deepclust_nb.results import report, collect_metrics
    if not collect_metrics(ROOT/'results'):
        assert '_No result files yet._' in (ROOT/'README.md').read_text(); return
    report(ROOT/'results', tmp_path)
    for f in ('report.md', 'summary.md', 'speed.md', 'own-images.md'):
        committed = ROOT/'results'/'report'/f
        if (tmp_path/f).exists():
            assert committed.exists() and committed.read_text() == (tmp_path/f).read_text(), \
                f"results/report/{f} is stale: run deepclust report results --out results/report && python tools/make_readme.py"
