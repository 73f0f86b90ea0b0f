"""Sphinx configuration of the documentation site. Build it with `python tools/build_docs.py` (never by hand):
that script stages the notebooks of `nbs/` (stored outputs, nothing executed), writes the API pages and runs Sphinx
with this file. Everything the pages load ships with the build: MathJax comes from the `sphinx-mathjax-offline`
package, the theme's fonts and scripts from `pydata-sphinx-theme`."""
import os, sys
from configparser import ConfigParser
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path[:0] = [str(ROOT), str(HERE/'_ext')]
os.environ.setdefault('OMP_NUM_THREADS', '1')          # autodoc imports torch: one thread is plenty
os.environ.setdefault('MPLBACKEND', 'Agg')

cfg = ConfigParser(delimiters=['=']); cfg.read(ROOT/'settings.ini', encoding='utf-8'); cfg = cfg['DEFAULT']
project = cfg['lib_name']
author = cfg['author']
copyright = cfg['copyright']
release = version = cfg['version']

extensions = [
    'myst_nb',                      # notebooks (stored outputs) and MyST markdown pages
    'sphinx.ext.autodoc',           # the API pages, from the exported functions' docstrings and signatures
    'sphinx.ext.mathjax',
    'sphinx-mathjax-offline',       # copies MathJax 3 into _static/mathjax: no page loads anything from elsewhere
    'docments_autodoc',             # adds the docments comments (`x:int=1  # what x is`) as parameter descriptions
]
root_doc = 'index'
exclude_patterns = ['_build', '_notebooks/**', '**.ipynb_checkpoints']
templates_path = []
html_static_path = [str(HERE/'_static')]
html_css_files = ['custom.css']

# notebooks: the outputs they were saved with, never executed here
nb_execution_mode = 'off'
nb_output_stderr = 'remove'
nb_render_markdown_format = 'myst'        # Markdown(...) outputs hold GitHub tables
nb_ipywidgets_js = {}                     # no widget JavaScript from a CDN
nb_merge_streams = True
myst_enable_extensions = ['dollarmath', 'amsmath', 'colon_fence', 'deflist', 'attrs_inline']
myst_dmath_double_inline = True
myst_heading_anchors = 3
suppress_warnings = ['myst.header', 'mystnb.unknown_mime_type', 'misc.highlighting_failure']

# MathJax 3 from the package, loaded from the site itself
mathjax_path = 'mathjax/tex-chtml.js'

# API pages
autodoc_default_options = {'members': True, 'undoc-members': True, 'member-order': 'bysource', 'no-value': True}
autodoc_typehints = 'signature'
autodoc_preserve_defaults = True          # `out='runs'`, not its repr
autoclass_content = 'class'
add_module_names = False
default_role = 'literal'                  # `x` in a docstring (Markdown style) is code, as in the notebooks

html_theme = 'pydata_sphinx_theme'
html_title = f'{project} {version}'
html_show_sourcelink = False              # each page links to its notebook instead
html_copy_source = False
html_last_updated_fmt = None
html_theme_options = {
    'navbar_align': 'left',
    'show_toc_level': 2,
    'navigation_with_keys': False,
    'header_links_before_dropdown': 6,
    'icon_links': [{'name': 'Source on GitHub', 'url': cfg['git_url'], 'icon': 'fa-brands fa-github'}],
    'footer_start': ['copyright'],
    'footer_end': ['sphinx-version'],
    'secondary_sidebar_items': ['page-toc'],
}
html_context = {'default_mode': 'light'}
