"The HTML report of a run on a folder of images, opened in a real headless Chromium: it loads and its images appear."
import os, re, shutil, subprocess
from pathlib import Path
import numpy as np
import pytest
from PIL import Image
from deepclust_nb.cli import main

CHROMIUM = next((shutil.which(b) for b in ('chromium', 'chromium-browser', 'google-chrome') if shutil.which(b)), None)
# CI installs Debian's chromium (.ci/run): there a missing browser is a failure, elsewhere a skip.
pytestmark = pytest.mark.skipif(CHROMIUM is None and not os.environ.get('CI'),
                                reason="no chromium on this machine (apt-get install chromium)")

def _folder(d:Path, n=36):
    "Three kinds of image (dark, bright red, striped) in mixed formats, modes and sizes, nested, plus a non-image."
    rng = np.random.default_rng(0)
    for i in range(n):
        kind, sz = i % 3, 20 + (i % 5) * 7
        a = rng.integers(0, 40, (sz, sz, 3)).astype(np.uint8)
        if kind == 1: a[..., 0] = 200 + a[..., 0] // 4
        if kind == 2: a[::4] = 255
        im = Image.fromarray(a)
        sub = d/f'part{i % 2}'/('deep' if i % 4 == 0 else ''); sub.mkdir(parents=True, exist_ok=True)
        if i % 6 == 0: im.convert('L').save(sub/f'img{i}.png')
        elif i % 6 == 1: im.convert('RGBA').save(sub/f'img{i}.png')
        elif i % 6 == 2: im.convert('P').save(sub/f'img{i}.gif')
        else: im.save(sub/f'img{i}.jpg', quality=90)
    (d/'notes.txt').write_text('not an image')

def _chromium(*args, tmp:Path):
    flags = ['--headless', '--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run', '--disable-sync',
             '--disable-background-networking', '--disable-component-update', f'--user-data-dir={tmp/"profile"}',
             '--virtual-time-budget=5000']
    return subprocess.run([CHROMIUM or 'chromium', *flags, *args], capture_output=True, text=True, timeout=120)

def test_report_opens_in_headless_chromium(tmp_path):
    assert CHROMIUM, "chromium is not installed (CI installs it: apt-get install chromium)"
    imgs, out = tmp_path/'imgs', tmp_path/'run'
    _folder(imgs)
    assert main(['fit', '--method', 'kmeans', '--images', str(imgs), '--clusters', '3', '--image-size', '16',
                 '--out', str(out), '--quiet']) == 0
    page = out/'report.html'
    assert page.exists() and (out/'map.png').exists() and (out/'cluster_sizes.csv').exists()
    n_img = page.read_text().count('<img ')
    sheets = len(list((out/'clusters').glob('cluster_*.png')))
    assert n_img == sheets + 2 and sheets >= 2          # sheets + t-SNE map + sizes chart
    assert 'notes.txt' in page.read_text()              # the skipped file is listed
    r = _chromium('--dump-dom', page.resolve().as_uri(), tmp=tmp_path)
    m = re.search(r'data-images-loaded="(\d+)"\s+data-images-total="(\d+)"', r.stdout)
    assert m, f"the page did not finish loading in chromium: {r.stderr[-2000:]}"
    assert (int(m[1]), int(m[2])) == (n_img, n_img), m.groups()   # every image decoded by the browser
    shot = tmp_path/'shot.png'
    _chromium(f'--screenshot={shot}', '--window-size=1100,1400', page.resolve().as_uri(), tmp=tmp_path)
    a = np.asarray(Image.open(shot).convert('RGB'))
    assert (a < 200).any(axis=-1).mean() > 0.02          # something other than a white page was drawn
