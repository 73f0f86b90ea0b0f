"""Cells, code lines and prose lines of each method notebook: its lesson (up to `## Appendix`) and its appendix, with
the longest code cell and the longest prose cell of each part.

    python tools/nb_cells.py                 # a table
    python tools/nb_cells.py --json F        # also write it as JSON
    python tools/nb_cells.py --check 40      # exit 1 when a cell of a method notebook has 40 lines or more
"""
import json, sys
from pathlib import Path
NBS = Path(__file__).resolve().parent.parent/'nbs'
APPENDIX = '## Appendix'

def parts(nb:Path) -> dict:
    "{'lesson': [...cells], 'appendix': [...]} split at the first markdown cell that starts with '## Appendix'."
    cells = json.loads(nb.read_text(encoding='utf-8'))['cells']
    i = next((k for k, c in enumerate(cells) if c['cell_type'] == 'markdown' and ''.join(c['source']).startswith(APPENDIX)), len(cells))
    return dict(lesson=cells[:i], appendix=cells[i:])

def measure(cells:list) -> dict:
    n = lambda c: len(''.join(c['source']).splitlines())
    code = [c for c in cells if c['cell_type'] == 'code']; prose = [c for c in cells if c['cell_type'] == 'markdown']
    return dict(cells=len(cells), code_lines=sum(map(n, code)), prose_lines=sum(map(n, prose)),
                longest_code=max(map(n, code), default=0), longest_prose=max(map(n, prose), default=0))

def method_notebooks() -> list: return sorted(NBS.glob('3[0-9]_methods.*.ipynb'))

def table() -> dict: return {p.name: {k: measure(v) for k, v in parts(p).items()} for p in method_notebooks()}

if __name__ == '__main__':
    t = table()
    print(f"{'notebook':32s} {'part':9s} cells code prose longest-code longest-prose")
    for nb, ps in t.items():
        for part, m in ps.items():
            print(f"{nb:32s} {part:9s} {m['cells']:5d} {m['code_lines']:4d} {m['prose_lines']:5d} {m['longest_code']:12d} {m['longest_prose']:13d}")
    if '--json' in sys.argv: Path(sys.argv[sys.argv.index('--json') + 1]).write_text(json.dumps(t, indent=1))
    if '--check' in sys.argv:
        lim = int(sys.argv[sys.argv.index('--check') + 1])
        bad = [(nb, part) for nb, ps in t.items() for part, m in ps.items() if max(m['longest_code'], m['longest_prose']) >= lim]
        if bad: print('cells of', lim, 'lines or more:', bad); sys.exit(1)
