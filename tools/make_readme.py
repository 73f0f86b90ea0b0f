"""Write README.md from nbs/index.ipynb (markdown cells as they are, code cells as fenced blocks), with the tables
made from the method registry and from the committed result files (`deepclust report results --out results/report`).
Links in the notebook are relative to nbs/; in the README they are rebased onto the repository root.
The documentation site (`tools/build_docs.py`) fills the same table markers in every notebook with `fill_tables`.

quarto (which `nbdev_readme` needs) is not installable everywhere, so the README is produced from the notebook
by this script; `tests/test_readme.py` fails when the two disagree. Usage: python tools/make_readme.py [--check]
"""
import json, posixpath, re, sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))      # the method registry's tables come from the checkout's package

TABLES = {'<!-- results-table -->': ROOT/'results'/'report'/'report.md',
          '<!-- results-summary -->': ROOT/'results'/'report'/'summary.md',
          '<!-- speed-table -->': ROOT/'results'/'report'/'speed.md',
          '<!-- time-table -->': ROOT/'results'/'report'/'time.md',
          '<!-- own-images-table -->': ROOT/'results'/'report'/'own-images.md'}

def fill_tables(src:str) -> str:
    "Replace each table marker by the table `deepclust report results --out results/report` wrote, and the methods marker by the registry's table."
    if '<!--' not in src: return src
    from deepclust_nb.results import methods_markdown, slice_markdown, slice_results_markdown
    from deepclust_nb.ablations import ablations_summary_markdown
    for mark, make in (('<!-- methods-table -->', methods_markdown), ('<!-- gpu-slice-table -->', slice_markdown),
                       ('<!-- gpu-slice-results -->', lambda: slice_results_markdown(ROOT/'results'/'gpu')),
                       ('<!-- ablations-table -->', lambda: ablations_summary_markdown(ROOT/'results'))):
        if mark in src: src = src.replace(mark, make().strip())     # made from the method registry
    for mark, path in TABLES.items():
        if mark in src:
            table = path.read_text().strip() if path.exists() else '_No result files yet._'
            src = src.replace(mark, table)
    return src

_tables = fill_tables

def rebase_links(md:str, prefix='nbs') -> str:
    "Markdown links and images relative to the notebook's folder, made relative to the repository root."
    def fix(m):
        target = m.group(2)
        if re.match(r'^[a-z]+:|^#|^/', target): return m.group(0)
        return m.group(1) + posixpath.normpath(posixpath.join(prefix, target)) + m.group(3)
    parts = re.split(r'(^```.*?^```[^\n]*$)', md, flags=re.M | re.S)     # fenced code is left as it is
    return ''.join(p if i % 2 else re.sub(r'(!?\[[^\]]*\]\()([^)\s]+)(\))', fix, p) for i, p in enumerate(parts))

def render(nb_path=ROOT/'nbs'/'index.ipynb') -> str:
    nb = json.loads(Path(nb_path).read_text())
    out = ['<!-- Generated from nbs/index.ipynb by tools/make_readme.py: edit the notebook, not this file. -->', '']
    for c in nb['cells']:
        src = ''.join(c['source']).strip('\n')
        if src.startswith('#|'):
            lines = src.splitlines()
            if any(l.strip() in ('#| hide', '#| export') for l in lines if l.startswith('#|')): continue
            src = '\n'.join(l for l in lines if not l.startswith('#|')).strip('\n')
        if not src: continue
        if c['cell_type'] == 'markdown': out += [rebase_links(fill_tables(src)), '']
        else:
            lang = 'sh' if src.startswith('!') or src.startswith('%%bash') else 'python'
            src = '\n'.join(l[1:] if l.startswith('!') else l for l in src.splitlines() if not l.startswith('%%bash'))
            out += [f'```{lang}', src, '```', '']
    return '\n'.join(out).rstrip('\n') + '\n'

if __name__ == '__main__':
    text = render()
    if '--check' in sys.argv:
        ok = (ROOT/'README.md').exists() and (ROOT/'README.md').read_text() == text
        print('README.md is up to date' if ok else 'README.md differs from nbs/index.ipynb: run python tools/make_readme.py')
        sys.exit(0 if ok else 1)
    (ROOT/'README.md').write_text(text)
    print('wrote README.md')
