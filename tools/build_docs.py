"""Build the documentation site from the notebooks: python tools/build_docs.py [--out _docs] [--work _proc/docs]

Every notebook of `nbs/` becomes a page with the outputs it was saved with (nothing is executed); `nbs/index.ipynb`
is the landing page; the API reference is made from the exported modules' docstrings, signatures and docments
comments; search is Sphinx's own. The result is a static folder (`_docs/` by default, git-ignored): open
`_docs/index.html` in a browser, or serve it with `python -m http.server -d _docs`. It loads nothing from elsewhere:
MathJax, fonts and scripts ship with it.

Needs the `docs` extra (`pip install -e ".[docs]"`; the versions are pinned in `settings.ini` and
`requirements/ci.txt`). nbdev's own `nbdev_docs` needs Quarto, which is not on PyPI; this is Sphinx + MyST-NB with
the PyData theme (the theme of scikit-learn's and NumPy's sites), configured in `docs/conf.py`.

Before Sphinx runs, the notebooks are staged in `--work`: cells marked `#| hide` are dropped, `#|` directive lines
are removed (`#| echo: false` hides a cell's code, `#| output: false` its output), the README's table markers are
filled by the same code as `tools/make_readme.py`, and a line under each title links to the source notebook (on
GitHub and as a download) and to the module's API page.
"""
import argparse, json, os, re, shutil, subprocess, sys, time
from configparser import ConfigParser
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
NBS, DOCS = ROOT/'nbs', ROOT/'docs'
sys.path.insert(0, str(ROOT/'tools'))
from make_readme import fill_tables        # noqa: E402  (the README's tables, made the same way here)

_cfg = ConfigParser(delimiters=['=']); _cfg.read(ROOT/'settings.ini', encoding='utf-8'); CFG = _cfg['DEFAULT']
GIT_URL, BRANCH = CFG['git_url'].rstrip('/'), CFG.get('branch', 'main')
IMAGE_SUFFIXES = {'.png', '.jpg', '.jpeg', '.gif', '.svg', '.webp'}

# The user guide's pages, in reading order; an unnumbered notebook not listed here is appended to its section.
GUIDE = ['guide.setup', 'guide.usage', 'guide.method', 'guide.estimator', 'guide.own_images', 'guide.reliability',
         'guide.reproduce', 'guide.distributed', 'guide.gpu']
RESULTS = ['results.report', 'results.ablations', 'results.speed']

def section_of(stem:str) -> str:
    "Which part of the site a notebook belongs to: index, guide, results, methods or lessons."
    if stem == 'index': return 'index'
    if stem.startswith('results'): return 'results'
    if re.match(r'\d+_methods\.', stem): return 'methods'
    if re.match(r'\d', stem): return 'lessons'
    return 'guide'

def github(rel:str, tree=False) -> str: return f"{GIT_URL}/{'tree' if tree else 'blob'}/{BRANCH}/{rel}"

def title_and_summary(nb:dict) -> tuple:
    "The notebook's H1 title and its `>` one-line summary (nbdev's convention), as plain text."
    for c in nb['cells']:
        if c['cell_type'] != 'markdown': continue
        src = ''.join(c['source'])
        m = re.search(r'^#\s+(.+)$', src, re.M)
        if not m: continue
        summary = ' '.join(l.lstrip('>').strip() for l in src.splitlines() if l.startswith('>'))
        return m.group(1).strip(), summary
    return None, ''

def exported_module(nb:dict):
    "The module a notebook exports to (`#| default_exp name`), as a dotted name, or None."
    for c in nb['cells']:
        if c['cell_type'] == 'code':
            m = re.search(r'^#\|\s*default_exp\s+(\S+)', ''.join(c['source']), re.M)
            if m: return CFG['lib_name'] if m.group(1) == '__init__' else f"{CFG['lib_name']}.{m.group(1)}"
    return None

# ---------------------------------------------------------------------------------------------------------------
# Markdown of the notebooks: links that leave nbs/, and the README's table markers

_LINK = re.compile(r'(!?\[[^\]]*\]\()([^)\s]+)(\))')
_CODE_NB = re.compile(r'(?<!\[)`nbs/([\w.\-]+)\.ipynb`')

def _outside_code(md:str, fn) -> str:
    "Apply `fn` to the parts of `md` outside fenced code blocks."
    parts = re.split(r'(^```.*?^```[^\n]*$)', md, flags=re.M | re.S)
    return ''.join(p if i % 2 else fn(p) for i, p in enumerate(parts))

def rewrite_markdown(md:str, work:Path, stems:set) -> str:
    "Links relative to nbs/: notebooks stay links between pages, images are copied in, other files go to GitHub."
    def link(m):
        target = m.group(2)
        if re.match(r'^[a-z]+:|^#|^/', target): return m.group(0)
        path, _, frag = target.partition('#')
        if path.endswith('.ipynb') and Path(path).stem in stems and '/' not in path: return m.group(0)
        dest = (NBS/path).resolve()
        try: rel = dest.relative_to(ROOT).as_posix()
        except ValueError: return m.group(0)           # outside the repository: left alone, the link check reports it
        if not dest.exists(): return m.group(0)
        if dest.is_file() and dest.suffix.lower() in IMAGE_SUFFIXES:
            copy = work/'_repo'/rel; copy.parent.mkdir(parents=True, exist_ok=True); shutil.copy2(dest, copy)
            return f'{m.group(1)}_repo/{rel}{m.group(3)}'
        return f"{m.group(1)}{github(rel, tree=dest.is_dir())}{'#' + frag if frag else ''}{m.group(3)}"
    def fix(text):
        text = _LINK.sub(link, text)
        return _CODE_NB.sub(lambda m: f'[`nbs/{m.group(1)}.ipynb`]({m.group(1)}.ipynb)' if m.group(1) in stems
                            else m.group(0), text)
    return _outside_code(md, fix)

# ---------------------------------------------------------------------------------------------------------------
# Notebooks → staged notebooks

APPENDIX, APPENDIX_SUFFIX = '## Appendix', '-appendix'   # where a method notebook's audit starts; its page's name

def _directives(src:str) -> tuple:
    "nbdev/Quarto `#|` directives of a code cell (normalised: 'hide', 'echo:false', ...) and the code without them."
    lines = src.splitlines()
    flags = {re.sub(r'\s+', '', l[2:]).lower() for l in lines if l.startswith('#|')}
    return flags, '\n'.join(l for l in lines if not l.startswith('#|')).strip('\n')

def source_links(stem:str, module) -> str:
    "The line under a page's title: its notebook on GitHub and as a download, and its module's API page."
    s = (f'*Source notebook:* [`nbs/{stem}.ipynb`]({github(f"nbs/{stem}.ipynb")}) '
         f'({{download}}`download <_notebooks/{stem}.ipynb>`)')
    if module: s += f' · *API:* [`{module}`](api/{module}.md)'
    return f':::{{container}} source-links\n{s}\n:::'

def stage_notebook(path:Path, work:Path, stems:set) -> dict:
    "Write the page's copy of a notebook into `work`; return its title, summary and module."
    nb = json.loads(path.read_text(encoding='utf-8'))
    title, summary = title_and_summary(nb)
    module = exported_module(nb)
    cells, header_done = [], False
    for c in nb['cells']:
        src = ''.join(c['source'])
        if c['cell_type'] == 'code':
            flags, code = _directives(src)
            if 'hide' in flags or 'include:false' in flags: continue
            if 'default_exp' in ' '.join(flags) and not code: continue
            tags = [t for t in c.get('metadata', {}).get('tags', [])]
            if 'echo:false' in flags: tags.append('remove-input')
            if 'output:false' in flags: tags.append('remove-output')
            outputs = c.get('outputs', [])
            if not code and not outputs: continue
            cells.append({'cell_type': 'code', 'execution_count': None, 'id': c.get('id'),
                          'metadata': {'tags': tags} if tags else {}, 'outputs': outputs, 'source': code})
        elif c['cell_type'] == 'markdown':
            md = rewrite_markdown(fill_tables(src), work, stems)
            cells.append({'cell_type': 'markdown', 'id': c.get('id'), 'metadata': {}, 'source': md})
            if not header_done and re.search(r'^#\s', src, re.M):
                cells.append({'cell_type': 'markdown', 'id': f'src-{len(cells)}', 'metadata': {},
                              'source': source_links(path.stem, module)})
                header_done = True
    meta = {'kernelspec': {'display_name': 'Python 3', 'language': 'python', 'name': 'python3'},
            'language_info': {'name': 'python', 'pygments_lexer': 'ipython3'}}
    page = {'stem': path.stem, 'title': title or path.stem, 'summary': summary, 'module': module}
    cut = next((i for i, c in enumerate(cells) if c['cell_type'] == 'markdown' and c['source'].startswith(APPENDIX)), None)
    if cut is not None:      # a method notebook's appendix (the audit) is folded away from the lesson: a page of its own
        stem = f'{path.stem}{APPENDIX_SUFFIX}'
        head, _, rest = cells[cut]['source'].partition('\n')
        audit = [{'cell_type': 'markdown', 'id': 'appendix-title', 'metadata': {},
                  'source': f"# {page['title']}: the audit\n\n{rest.strip()}\n\nThe lesson: [{page['title']}]({path.stem}.ipynb)."},
                 {'cell_type': 'markdown', 'id': 'appendix-src', 'metadata': {}, 'source': source_links(path.stem, module)}]
        audit += cells[cut + 1:]
        cells = cells[:cut] + [{'cell_type': 'markdown', 'id': 'appendix-link', 'metadata': {},
                                'source': f"{head}\n\n{rest.strip()}\n\nIt is on [a page of its own]({stem}.ipynb)."}]
        (work/f'{stem}.ipynb').write_text(json.dumps({'cells': audit, 'nbformat': 4, 'nbformat_minor': 5, 'metadata': meta},
                                                     indent=1), encoding='utf-8')
        page['appendix'] = {'stem': stem, 'title': f"{page['title']}: the audit",
                            'summary': 'the paper trace, the precision, resume and contract checks, the ablation machinery'}
    (work/path.name).write_text(json.dumps({'cells': cells, 'nbformat': 4, 'nbformat_minor': 5, 'metadata': meta}, indent=1),
                                encoding='utf-8')
    (work/'_notebooks').mkdir(exist_ok=True); shutil.copy2(path, work/'_notebooks'/path.name)
    return page

# ---------------------------------------------------------------------------------------------------------------
# Section pages and API pages

def _listing(pages:list, prefix='') -> str:
    "A definition list of pages (title → one-line summary) and the hidden toctree that puts them in the navigation."
    items = '\n'.join(f"[{p['title']}]({prefix}{p['stem']}.{p.get('ext', 'ipynb')})\n: {p['summary'] or ' '}\n"
                      for p in pages)
    toc = '\n'.join(f"{p['stem']}" for p in pages)
    return f"{items}\n```{{toctree}}\n:hidden:\n:maxdepth: 1\n\n{toc}\n```\n"

# Section pages: their file names must not be a notebook's name followed by a dot (Sphinx would take
# `guide.setup.ipynb` for a second source of a page called `guide`).
SECTIONS = {
    'guide': ('User guide', 'How to install the library, cluster your images and run it safely, at scale and on a '
              'GPU: one task per page, with the commands and their outputs.'),
    'results': ('Results', 'What the methods reach here, beside the papers: every number is read from the result '
                'files committed in `results/` by `deepclust report results`.'),
    'methods': ('Methods', "One notebook per paper: its equations, every loss term as a checked pure function, the "
                "training and the results. The papers are cited at the top of each page."),
    'lessons': ('Lessons', 'The shared parts every method is built from, one module per notebook, in the order '
                'they build on each other: each exported function with a cell that runs and checks it.'),
}

SECTION_PAGE = {'guide': 'user_guide', 'results': 'results_overview', 'methods': 'methods', 'lessons': 'lessons'}

def reexported(mod:str) -> dict:
    "{defining module: [names]} of the names in `mod`'s `__all__` that it imports from another module of the package."
    import ast
    path = ROOT/(mod.replace('.', '/') + '.py')
    if not path.exists(): path = ROOT/mod.replace('.', '/')/'__init__.py'
    tree = ast.parse(path.read_text(encoding='utf-8'))
    names = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                  and any(getattr(t, 'id', None) == '__all__' for t in n.targets)), [])
    pkg = mod.rsplit('.', 1)[0]
    out = {}
    for n in tree.body:
        if isinstance(n, ast.ImportFrom) and n.level == 1 and n.module:
            for a in n.names:
                if (a.asname or a.name) in names: out.setdefault(f'{pkg}.{n.module}', []).append(a.asname or a.name)
    return out

def module_pages(work:Path, pages:list) -> list:
    "One API page per exported module: its docstring, then every public name of `__all__` (autodoc)."
    (work/'api').mkdir(exist_ok=True)
    mods = []
    for p in pages:
        if not p['module']: continue
        stem, mod = p['stem'], p['module']
        again = reexported(mod)
        text = (f"# {mod}\n\n:::{{container}} source-links\n*Lesson:* [{p['title']}](../{stem}.ipynb) · *Source "
                f"notebook:* [`nbs/{stem}.ipynb`]({github(f'nbs/{stem}.ipynb')})\n:::\n\n")
        if again:
            text += ("Also importable from here (the path they had before the module was split), documented where "
                     "they are defined: " + '; '.join(f"[`{src}`]({src}.md): " + ', '.join(f'`{n}`' for n in names)
                                                     for src, names in again.items()) + ".\n\n")
        opts = f"   :exclude-members: {', '.join(n for names in again.values() for n in names)}\n" if again else ''
        text += f"```{{eval-rst}}\n.. automodule:: {mod}\n{opts}```\n"
        (work/'api'/f'{mod}.md').write_text(text, encoding='utf-8')
        mods.append({'stem': mod, 'title': mod, 'summary': p['title'] + (' — ' + p['summary'] if p['summary'] else ''),
                     'ext': 'md'})
    (work/'api'/'index.md').write_text(
        "# API reference\n\nEvery public function and class of the package, module by module, from its docstring, "
        "signature and the comments on its parameters (nbdev's *docments*). Each module is exported from one "
        "notebook, linked at the top of its page, where the code is explained and checked.\n\n" + _listing(mods),
        encoding='utf-8')
    return mods

def stage(work:Path) -> dict:
    "Write the Sphinx source folder: staged notebooks, section pages, API pages, the root toctree."
    if work.exists(): shutil.rmtree(work)
    work.mkdir(parents=True)
    paths = sorted(p for p in NBS.glob('*.ipynb') if not p.name.startswith(('_', '.')))
    stems = {p.stem for p in paths}
    pages = [stage_notebook(p, work, stems) for p in paths]
    by = {}
    for p in pages:
        by.setdefault(section_of(p['stem']), []).append(p)
        if p.get('appendix'): by[section_of(p['stem'])].append(p['appendix'])
    order = {s: i for i, s in enumerate(GUIDE + RESULTS)}
    for s in ('guide', 'results'): by.get(s, []).sort(key=lambda p: (order.get(p['stem'], len(order)), p['stem']))
    for s, (title, intro) in SECTIONS.items():
        (work/f'{SECTION_PAGE[s]}.md').write_text(f'# {title}\n\n{intro}\n\n' + _listing(by.get(s, [])), encoding='utf-8')
    mods = module_pages(work, pages)
    toc = ('\n\n```{toctree}\n:hidden:\n:maxdepth: 2\n\n' + '\n'.join([SECTION_PAGE[s] for s in SECTIONS] + ['api/index']) + '\n```\n')
    idx = work/'index.ipynb'
    nb = json.loads(idx.read_text(encoding='utf-8'))
    nb['cells'].append({'cell_type': 'markdown', 'id': 'site-toctree', 'metadata': {}, 'source': toc})
    idx.write_text(json.dumps(nb, indent=1), encoding='utf-8')
    return {'pages': pages, 'modules': mods}

def build(out:Path, work:Path, quiet=True) -> int:
    "Stage the sources and run Sphinx: the site in `out`."
    t0 = time.time()
    staged = stage(work)
    if out.exists() and any(out.iterdir()) and not (out/'.buildinfo').exists():
        sys.exit(f'{out} holds files that are not a site this script built: choose another --out')
    html = work/'_build'/'html'       # built next to the sources (MyST-NB writes beside it), then moved to `out`
    cmd = [sys.executable, '-m', 'sphinx', '-b', 'html', '-c', str(DOCS), '-d', str(work/'_build'/'doctrees'),
           str(work), str(html)] + (['-q'] if quiet else [])
    env = {**os.environ, 'OMP_NUM_THREADS': os.environ.get('OMP_NUM_THREADS', '1'), 'MPLBACKEND': 'Agg'}
    r = subprocess.run(cmd, cwd=ROOT, env=env)
    if r.returncode == 0:
        if out.exists(): shutil.rmtree(out)
        out.parent.mkdir(parents=True, exist_ok=True)
        shutil.move(str(html), str(out))
        print(f"built {len(staged['pages'])} notebook pages and {len(staged['modules'])} API pages into {out} "
              f"in {time.time() - t0:.0f} s: open {out/'index.html'}")
    return r.returncode

if __name__ == '__main__':
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument('--out', type=Path, default=ROOT/CFG.get('doc_path', '_docs'), help='where the site is written')
    ap.add_argument('--work', type=Path, default=ROOT/'_proc'/'docs', help='staging folder for Sphinx sources')
    ap.add_argument('--verbose', action='store_true', help="print Sphinx's progress, not only its warnings")
    a = ap.parse_args()
    sys.exit(build(a.out.resolve(), a.work.resolve(), quiet=not a.verbose))
