"""The documentation site, built by `tools/build_docs.py` from the notebooks and opened in a real headless Chromium:
every notebook is a page, equations are typeset by the MathJax that ships with the site, figures load, internal links
reach existing pages, the API pages hold every public function and class, search finds them, and no page loads
anything from another host."""
import ast, functools, html.parser, json, os, re, shutil, subprocess, sys, threading, time
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import unquote, urlsplit
import pytest

ROOT = Path(__file__).resolve().parents[1]
NBS = sorted(p for p in (ROOT/'nbs').glob('*.ipynb') if not p.name.startswith(('_', '.')))
CHROMIUM = next((shutil.which(b) for b in ('chromium', 'chromium-browser', 'google-chrome') if shutil.which(b)), None)
try: import sphinx, myst_nb  # noqa: F401
except ImportError: sphinx = None
# CI installs the docs packages (requirements/ci.txt) and Debian's chromium (.ci/run): there a missing one is a failure.
pytestmark = pytest.mark.skipif(sphinx is None and not os.environ.get('CI'),
                                reason='the docs extra is not installed (pip install -e ".[docs]")')
needs_chromium = pytest.mark.skipif(CHROMIUM is None and not os.environ.get('CI'),
                                    reason='no chromium on this machine (apt-get install chromium)')

# Pages whose notebooks still name the folder kept beside the checkout in development (the papers' text copies, the
# design notes, the data), which a clone does not have: in code cells, or in method notebooks being rewritten.
# Remove a notebook from this set once it no longer does; no other page may.
OUTSIDE_PATHS_ALLOWED = set()   # no page names a folder outside the repository
OUTSIDE = re.compile(r'(?:\.\./)+shared\b|\bshared/(?:papers|design|data)\b|\b(?:METHODS|TARGETS|STACK)\.md\b')

@pytest.fixture(scope='module')
def site(tmp_path_factory):
    "The site, built once for this module from the checkout's notebooks."
    d = tmp_path_factory.mktemp('docs')
    t0 = time.time()
    r = subprocess.run([sys.executable, 'tools/build_docs.py', '--out', str(d/'site'), '--work', str(d/'src')],
                       cwd=ROOT, capture_output=True, text=True, env={**os.environ, 'OMP_NUM_THREADS': '1'})
    assert r.returncode == 0, r.stdout[-3000:] + r.stderr[-3000:]
    assert 'WARNING' not in r.stderr, f"the build warned:\n{r.stderr[-3000:]}"
    print(f'site built in {time.time() - t0:.0f} s')
    return d/'site'

class _Refs(html.parser.HTMLParser):
    "The links, resources and element ids of one HTML page."
    def __init__(self):
        super().__init__(); self.links, self.resources, self.ids = [], [], set()
    def handle_starttag(self, tag, attrs):
        a = dict(attrs)
        if a.get('id'): self.ids.add(a['id'])
        if tag == 'a' and a.get('href'): self.links.append(a['href'])
        if tag in ('img', 'script', 'iframe', 'source', 'video', 'audio', 'embed') and a.get('src'): self.resources.append(a['src'])
        if tag == 'link' and a.get('href'): self.resources.append(a['href'])

@functools.lru_cache(maxsize=None)
def _parse(path:Path) -> _Refs:
    p = _Refs(); p.feed(path.read_text(encoding='utf-8')); return p

def _pages(site:Path): return sorted(p for p in site.rglob('*.html') if not p.relative_to(site).parts[0].startswith('_'))

def test_every_notebook_is_a_page_that_links_to_its_notebook(site):
    "One page per notebook, the landing page made from nbs/index.ipynb; each links to its source notebook."
    for nb in NBS:
        page = site/f'{nb.stem}.html'
        assert page.exists(), f'{nb.name} has no page'
        links = _parse(page).links
        assert any(l.endswith(f'/nbs/{nb.name}') for l in links), f'{page.name} does not link to nbs/{nb.name} on GitHub'
        dl = [l for l in links if l.startswith('_downloads/') and l.endswith(nb.name)]
        assert dl and (site/unquote(dl[0])).exists(), f'{page.name} offers no download of {nb.name}'
    index = re.sub(r'<[^>]+>', '', (site/'index.html').read_text(encoding='utf-8'))
    assert 'Three commands' in index and 'deepclust fit --method kmeans --dataset digits' in index
    assert (site/'api'/'index.html').exists() and (site/'search.html').exists() and (site/'searchindex.js').exists()

def test_internal_links_reach_existing_pages_and_anchors(site):
    "Every relative link and resource of every page points at a file of the site (and an id on it, for #anchors)."
    bad = []
    for page in _pages(site):
        refs = _parse(page)
        for url in refs.links + refs.resources:
            parts = urlsplit(url)
            if parts.scheme or url.startswith('//') or url.startswith(('mailto:', 'javascript:', 'data:')): continue
            target = page if not parts.path else (page.parent/unquote(parts.path)).resolve()
            if target.is_dir(): target = target/'index.html'
            if not target.exists(): bad.append(f'{page.relative_to(site)}: {url}'); continue
            if parts.fragment and target.suffix == '.html' and parts.fragment not in _parse(target).ids:
                bad.append(f'{page.relative_to(site)}: {url} (no such anchor)')
    assert not bad, f'{len(bad)} broken internal links:\n' + '\n'.join(bad[:30])

def test_no_page_loads_anything_from_another_host(site):
    "Scripts, styles, images and fonts come from the site itself: it works offline (MathJax included)."
    external = [f'{p.relative_to(site)}: {u}' for p in _pages(site) for u in _parse(p).resources
                if urlsplit(u).scheme in ('http', 'https') or u.startswith('//')]
    for css in site.rglob('*.css'):
        external += [f'{css.relative_to(site)}: {u}' for u in re.findall(r'url\(\s*[\'"]?((?:https?:)?//[^)\'"]+)', css.read_text(errors='ignore'))]
    assert not external, 'resources from other hosts:\n' + '\n'.join(external[:20])
    assert (site/'_static'/'mathjax'/'tex-chtml.js').exists()

def _public_definitions():
    "Per exported module: the names in `__all__` that the module itself defines with `def` or `class`."
    out = {}
    for py in sorted((ROOT/'deepclust_nb').rglob('*.py')):
        if py.name.startswith('_') and py.name != '__init__.py': continue
        tree = ast.parse(py.read_text(encoding='utf-8'))
        names = next((ast.literal_eval(n.value) for n in tree.body if isinstance(n, ast.Assign)
                      and any(getattr(t, 'id', None) == '__all__' for t in n.targets)), [])
        defined = {n.name for n in tree.body if isinstance(n, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))}
        rel = py.relative_to(ROOT).with_suffix('')
        mod = '.'.join(rel.parts[:-1] if rel.name == '__init__' else rel.parts)
        if names: out[mod] = [n for n in names if n in defined]
    return out

def test_api_pages_hold_every_public_function(site):
    "Each module's API page documents every function and class of its `__all__`, with the docments comments."
    defs = _public_definitions()
    assert len(defs) >= 20 and sum(map(len, defs.values())) >= 150, defs
    missing = []
    for mod, names in defs.items():
        page = site/'api'/f'{mod}.html'
        assert page.exists(), f'no API page for {mod}'
        ids = _parse(page).ids
        missing += [f'{mod}.{n}' for n in names if f'{mod}.{n}' not in ids]
    assert not missing, f'{len(missing)} public names missing from the API pages: {missing[:20]}'
    core = (site/'api'/'deepclust_nb.core.html').read_text(encoding='utf-8')
    assert 'what to do when it is damaged' in core                 # `load_torch`'s docments comment on `fix`
    index = (site/'searchindex.js').read_text(encoding='utf-8')
    assert all(n in index for names in defs.values() for n in names), 'a public name is missing from the search index'

def test_no_path_outside_the_repository_in_what_users_read(site):
    "The README and the pages name no folder outside the repository (the papers are cited, not pointed at)."
    assert not OUTSIDE.search((ROOT/'README.md').read_text(encoding='utf-8'))
    bad = []
    for nb in NBS:
        if nb.stem in OUTSIDE_PATHS_ALLOWED: continue
        text = re.sub(r'<[^>]+>', '', (site/f'{nb.stem}.html').read_text(encoding='utf-8'))
        bad += [f'{nb.stem}: {m.group(0)}' for m in OUTSIDE.finditer(text)]
    assert not bad, bad

PROBE = """<!doctype html><html><head><meta charset="utf-8"><title>probe</title></head><body><pre id="result">running</pre>
<script>
const pages = %s, query = %s;
const sleep = ms => new Promise(r => setTimeout(r, ms));
const out = {pages: {}, search: null};
function open(url) {
  const f = document.createElement('iframe'); f.style.width = '1200px'; f.style.height = '900px';
  const loaded = new Promise(r => f.onload = r); f.src = url; document.body.appendChild(f);
  return loaded.then(() => f);
}
async function check(url) {
  const f = await open(url), w = f.contentWindow, d = f.contentDocument;
  const nmath = d.querySelectorAll('.math').length;
  if (nmath) {
    for (let i = 0; i < 400 && !(w.MathJax && w.MathJax.startup && w.MathJax.startup.promise); i++) await sleep(50);
    if (w.MathJax && w.MathJax.startup) await w.MathJax.startup.promise;
  }
  const imgs = [...d.images];
  for (let i = 0; i < 400 && imgs.some(im => !im.complete); i++) await sleep(50);
  const clone = d.querySelector('article') ? d.querySelector('article').cloneNode(true) : d.body.cloneNode(true);
  clone.querySelectorAll('pre, code, script, style, mjx-container, textarea, .highlight').forEach(e => e.remove());
  const text = clone.textContent, raw = [];
  for (const re of [/\\\\frac|\\\\sum|\\\\mathcal|\\\\left|\\\\begin\\{/g, /\\\\\\(|\\\\\\[/g, /\\$\\$/g, /\\$[^\\s$][^$\\n]{0,80}?[^\\s$\\\\]\\$/g]) {
    const m = text.match(re); if (m) raw.push(...m.slice(0, 3));
  }
  const res = w.performance.getEntriesByType('resource').map(e => e.name);
  out.pages[url] = {math_source: nmath, math_typeset: d.querySelectorAll('mjx-container').length,
                    math_errors: d.querySelectorAll('mjx-merror').length, raw,
                    images: imgs.length, broken: imgs.filter(im => !(im.complete && im.naturalWidth > 0)).map(im => im.getAttribute('src')),
                    external: res.filter(u => !u.startsWith(location.origin))};
  f.remove();
}
async function search() {
  const f = await open('search.html?q=' + encodeURIComponent(query)), d = f.contentDocument;
  let links = [];
  for (let i = 0; i < 400; i++) {
    links = [...d.querySelectorAll('#search-results a')].map(a => a.getAttribute('href'));
    if (links.length) break; await sleep(50);
  }
  out.search = links;
}
(async () => {
  for (const p of pages) { try { await check(p); } catch (e) { out.pages[p] = {error: String(e)}; } }
  try { await search(); } catch (e) { out.search = String(e); }
  document.getElementById('result').textContent = JSON.stringify(out);
})();
</script></body></html>"""

class _Quiet(SimpleHTTPRequestHandler):
    def log_message(self, *a): pass

@needs_chromium
def test_pages_in_headless_chromium(site, tmp_path):
    "Every notebook page and the API index in a real browser: math typeset, no raw TeX, every image decoded, nothing external; search finds a function."
    assert CHROMIUM, 'chromium is not installed (CI installs it: apt-get install chromium)'
    pages = [f'{nb.stem}.html' for nb in NBS] + ['api/index.html', 'api/deepclust_nb.losses.html']
    (site/'_probe.html').write_text(PROBE % (json.dumps(pages), json.dumps('load_torch')), encoding='utf-8')
    server = ThreadingHTTPServer(('127.0.0.1', 0), functools.partial(_Quiet, directory=str(site)))
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-sync',
                 '--disable-background-networking', '--disable-component-update', '--disable-extensions',
                 f'--user-data-dir={tmp_path/"profile"}', '--virtual-time-budget=600000', '--window-size=1280,1000']
        url = f'http://127.0.0.1:{server.server_address[1]}/_probe.html'
        r = subprocess.run([CHROMIUM, *flags, '--dump-dom', url], capture_output=True, text=True, timeout=240)
    finally:
        server.shutdown(); (site/'_probe.html').unlink()
    m = re.search(r'<pre id="result">(.*?)</pre>', r.stdout, re.S)
    assert m and m.group(1) != 'running', f'the probe page did not finish in chromium: {r.stderr[-2000:]}'
    res = json.loads(html.unescape(m.group(1)))
    problems = []
    for page, p in res['pages'].items():
        if 'error' in p: problems.append(f"{page}: {p['error']}"); continue
        if p['math_source'] and p['math_typeset'] < p['math_source']:
            problems.append(f"{page}: {p['math_typeset']} of {p['math_source']} equations typeset")
        if p['math_errors']: problems.append(f"{page}: {p['math_errors']} MathJax errors")
        if p['raw']: problems.append(f"{page}: raw TeX in the text: {p['raw']}")
        if p['broken']: problems.append(f"{page}: images that did not load: {p['broken']}")
        if p['external']: problems.append(f"{page}: loaded from another host: {p['external'][:3]}")
    assert not problems, '\n'.join(problems)
    methods = [p for p in res['pages'] if re.match(r'3[1-6]_methods', p)]
    assert len(methods) >= 6 and all(res['pages'][p]['math_typeset'] >= 1 for p in methods), \
        {p: res['pages'][p]['math_typeset'] for p in methods}
    assert sum(p['images'] for p in res['pages'].values()) >= 30
    assert any('deepclust_nb.core.load_torch' in h for h in res['search'] or []), f"search for load_torch: {res['search']}"
