"""The package's import graph: which module imports which at import time (module level), and any cycle in it.

    python tools/import_graph.py            # one line per module: its size and the modules it imports
    python tools/import_graph.py --check    # exit 1 when the module-level imports form a cycle
"""
import ast, sys
from pathlib import Path
PKG = Path(__file__).resolve().parent.parent/'deepclust_nb'

def graph() -> dict:
    "{module: set of package modules it imports at module level} (imports inside functions are deferred and left out)."
    g = {}
    for p in sorted(PKG.rglob('*.py')):
        if p.name == '_modidx.py': continue
        mod = '.'.join(p.relative_to(PKG.parent).with_suffix('').parts).removesuffix('.__init__')
        pkg = mod if p.name == '__init__.py' else mod.rsplit('.', 1)[0]
        deps = set()
        for n in ast.parse(p.read_text()).body:
            if isinstance(n, ast.ImportFrom):
                if n.level:
                    base = pkg.split('.')[:len(pkg.split('.')) - n.level + 1]
                    target = '.'.join(base + ([n.module] if n.module else []))
                else: target = n.module or ''
                if target.startswith('deepclust_nb'): deps.add(target)
            elif isinstance(n, ast.Import):
                deps |= {a.name for a in n.names if a.name.startswith('deepclust_nb')}
        g[mod] = deps - {mod}
    return g

def cycles(g:dict) -> list:
    "Every cycle found by a depth-first search, as a list of modules."
    out, state = [], {}
    def visit(m, path):
        state[m] = 1
        for d in sorted(g.get(m, ())):
            if state.get(d) == 1: out.append(path[path.index(d):] + [d])
            elif d in g and not state.get(d): visit(d, path + [d])
        state[m] = 2
    for m in sorted(g):
        if not state.get(m): visit(m, [m])
    return out

if __name__ == '__main__':
    g = graph()
    if '--check' not in sys.argv:
        for m, d in g.items():
            f = PKG.parent/(m.replace('.', '/') + '.py')
            if not f.exists(): f = PKG.parent/m.replace('.', '/')/'__init__.py'
            n = len(f.read_text().splitlines())
            print(f"{m:36s} {n:5d}  {', '.join(sorted(x.removeprefix('deepclust_nb.') for x in d))}")
    c = cycles(g)
    for x in c: print('cycle:', ' -> '.join(x))
    sys.exit(1 if c and '--check' in sys.argv else 0)
