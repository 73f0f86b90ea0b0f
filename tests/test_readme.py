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
