"""Sphinx extension for the API pages of an nbdev library:

- the parameter comments nbdev calls *docments* (`def f(x:int=1,  # what x is`) become the parameter descriptions,
  as nbdev's `show_doc` shows them (a comment after `) -> T:` describes the return value);
- docstrings are written in Markdown, as in the notebooks: `*` and a trailing `_` that are not emphasis are escaped
  so that reStructuredText reads them as text (`code` is a literal through `default_role`);
- members a class inherits from another library (scikit-learn's `set_*_request`, say) are left to that library.
"""
import re
from fastcore.docments import docments

_CODE = re.compile(r'(``?[^`]+``?)')
_EMPH = re.compile(r'(?<![\w*\\/])(\*\*?)(?=[^\s*])([^*]+?)(?<=[^\s*])\1(?![\w*])')

def md_line(s:str) -> str:
    "One line of a Markdown docstring as reStructuredText: stray `*` and `word_` escaped outside code spans."
    out = []
    for i, part in enumerate(_CODE.split(s)):
        if i % 2: out.append(part); continue
        keep = []
        part = _EMPH.sub(lambda m: keep.append(m.group(0)) or f'\x00{len(keep) - 1}\x00', part)
        part = part.replace('*', r'\*')
        part = re.sub(r'(\w)_(?=\W|$)', r'\1\\_', part)
        part = re.sub(r'\|', r'\|', part)
        out.append(re.sub(r'\x00(\d+)\x00', lambda m: keep[int(m.group(1))], part))
    return ''.join(out)

def _params(obj):
    try: d = docments(obj, full=False)
    except Exception: return {}, None
    ret = d.pop('return', None)
    return {k: v for k, v in d.items() if v and k not in ('self', 'cls')}, ret

def process_docstring(app, what, name, obj, options, lines):
    "Markdown → reST, then `:param name: comment` for every documented parameter and `:returns:` for the return."
    lines[:] = [md_line(l) for l in lines]
    if what not in ('function', 'method', 'class'): return
    params, ret = _params(obj)
    if not params and not ret: return
    lines.append('')
    for k, v in params.items(): lines.append(f':param {k}: {md_line(v)}')
    if ret: lines.append(f':returns: {md_line(ret)}')

def skip_foreign(app, what, name, obj, skip, options):
    "A class's members that come from another library are not part of this API."
    if what == 'class':
        mod = getattr(obj, '__module__', None) or getattr(getattr(obj, 'fget', None), '__module__', None)
        if mod and not mod.startswith(app.config.project): return True
    return None

def setup(app):
    app.connect('autodoc-process-docstring', process_docstring)
    app.connect('autodoc-skip-member', skip_foreign)
    return {'parallel_read_safe': True, 'parallel_write_safe': True}
