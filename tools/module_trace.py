"""Which of the package's modules a tiny `fit` passes through, and which calls go against the import graph.

    python tools/module_trace.py                      # the library on the path
    PYTHONPATH=/path/to/other/copy python tools/module_trace.py --json out.json

Every Python call inside `deepclust_nb` is followed (sys.setprofile) while `fit` trains a toy-sized DCSC run
(2 epochs, 120 digits, report off). A call from a function of module A into a function of module B (A ≠ B) is an
edge A → B. An edge goes *down* when A imports B (directly or through other modules, at module level): the caller
knows the callee. It goes *up* when it does not: a lower module calling back into a higher one — a method's hook
called by the loop, or a module that reaches up through a deferred import. Distinct edges are counted, and the
calls along them.
"""
import sys, json, os, tempfile, collections
from pathlib import Path
os.environ.setdefault('OMP_NUM_THREADS', '1')
sys.path.insert(0, str(Path(__file__).resolve().parent))

def closure(g:dict) -> dict:
    "Each module's transitive module-level imports."
    out = {}
    def reach(m, seen):
        for d in g.get(m, ()):
            if d not in seen: seen.add(d); reach(d, seen)
        return seen
    for m in g: out[m] = reach(m, set())
    return out

def trace_fit(**params) -> dict:
    import deepclust_nb, import_graph
    from deepclust_nb.learner import fit
    root = os.path.dirname(deepclust_nb.__file__)
    import_graph.PKG = Path(root)
    below = {k.removeprefix('deepclust_nb.'): {x.removeprefix('deepclust_nb.') for x in v} for k, v in closure(import_graph.graph()).items()}
    calls = collections.Counter()
    def mod_of(frame):
        f = frame.f_code.co_filename if frame is not None else ''
        if not f.startswith(root): return None
        m = os.path.relpath(f, root).removesuffix('.py').replace(os.sep, '.')
        return None if m == '_modidx' else m.removesuffix('.__init__')
    def prof(frame, event, arg):
        if event != 'call': return
        b = mod_of(frame); a = mod_of(frame.f_back)
        if a and b and a != b: calls[(a, b)] += 1
    out = tempfile.mkdtemp()
    sys.setprofile(prof)
    try: fit('dcsc', out=out + '/run', dataset='digits', subset=120, epochs=2, batch_size=32, backbone='convnet',
             report=False, progress=False, device='cpu', **params)
    finally: sys.setprofile(None)
    up = {e: n for e, n in calls.items() if e[1] not in below.get(e[0], set())}
    mods = sorted({m for e in calls for m in e})
    return dict(modules=mods, n_modules=len(mods), edges=len(calls), calls=sum(calls.values()),
                up_edges=sorted(f'{a} -> {b} ({n} calls)' for (a, b), n in up.items()),
                n_up_edges=len(up), up_calls=sum(up.values()), library=root)

if __name__ == '__main__':
    r = trace_fit()
    print(f"fit passed through {r['n_modules']} modules: {', '.join(r['modules'])}")
    print(f"{r['edges']} distinct calls between modules ({r['calls']} calls); {r['n_up_edges']} of them up "
          f"({r['up_calls']} calls), against the import graph:")
    for e in r['up_edges']: print('  ', e)
    if '--json' in sys.argv: open(sys.argv[sys.argv.index('--json') + 1], 'w').write(json.dumps(r, indent=1))
