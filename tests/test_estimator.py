"""`DeepCluster` against the command line on the same images written to a folder, a trained cluster head's
probabilities, runs that are saved, loaded and resumed, and torch Datasets as input."""
import csv, json, pickle
from pathlib import Path
import numpy as np
import pytest
import torch
from PIL import Image

from deepclust_nb import DeepCluster
from deepclust_nb.cli import main
from deepclust_nb.core import DeepClustError
from deepclust_nb.data import load_dataset

TINY = dict(epochs=3, batch_size=20, progress=False, report=False)   # three short epochs of a trained method (under a second)

@pytest.fixture
def digits(tmp_path, monkeypatch):
    "60 digits at 16 px as an array, and the same images as PNG files in a folder (names in the folder loader's order)."
    monkeypatch.setenv('DEEPCLUST_RUNS', str(tmp_path/'runs'))
    monkeypatch.setenv('DEEPCLUST_CACHE', str(tmp_path/'cache'))
    d = load_dataset('digits', subset=60, size=16)
    x = d.x[:, 0].numpy()
    folder = tmp_path/'imgs'; folder.mkdir()
    for i, im in enumerate(x): Image.fromarray(im).save(folder/f'img{i}.png')   # natural order: img2 before img10
    return x, d.y.numpy(), folder

def _cli_clusters(run):
    with open(run/'assignments.csv') as f: return np.array([int(r['cluster']) for r in csv.DictReader(f)])

def _cli_fit(folder, out, method, *extra):
    argv = ['fit', '--method', method, '--images', str(folder), '--image-size', '16', '--clusters', '10', '--out', str(out), '--quiet', *extra]
    assert main(argv) == 0
    return _cli_clusters(out)

@pytest.mark.parametrize('method,params', [('kmeans', {}), ('dcsc', TINY)], ids=['kmeans', 'dcsc-3-epochs'])
def test_same_clusters_as_the_command_line_on_a_folder(digits, tmp_path, method, params):
    x, _, folder = digits
    flags = [a for k, v in params.items() for a in ('--' + k.replace('_', '-'), str(v))]
    cli = _cli_fit(folder, tmp_path/'cli', method, *flags)
    assert cli.shape == (60,) and cli.min() >= 0 and cli.max() < 10   # one cluster id in [0, 10) per image
    if method == 'kmeans': assert len(set(cli)) >= 3            # k-means on 60 distinct images uses several clusters
    # (how many clusters 3 short epochs of DCSC use depends on the CPU's arithmetic and thread count: not asserted;
    # what the estimator guarantees is the same clusters as the command line, in the same process)
    est = DeepCluster(method, n_clusters=10, out=False, **params).fit(x)
    np.testing.assert_array_equal(est.labels_, cli)
    if method == 'kmeans':     # the other input kinds of the same images: file paths and PIL images
        files = sorted(folder.iterdir(), key=lambda p: int(p.stem[3:]))
        np.testing.assert_array_equal(DeepCluster(method, n_clusters=10, out=False).fit(files).labels_, cli)
        np.testing.assert_array_equal(DeepCluster(method, n_clusters=10, out=False).fit([Image.open(f) for f in files]).labels_, cli)
        back = DeepCluster.load(tmp_path/'cli')                  # a command-line run, loaded: predicts its own clusters
        np.testing.assert_array_equal(back.predict(x), cli)
        np.testing.assert_array_equal(back.labels_, cli)

def test_predict_proba_of_a_trained_cluster_head(digits):
    x, y, _ = digits
    est = DeepCluster('dcsc', n_clusters=10, out=False, **TINY).fit(x, y)
    p = est.predict_proba(x)
    assert p.shape == (60, 10)
    np.testing.assert_allclose(p.sum(1), 1, atol=1e-5)
    np.testing.assert_array_equal(p.argmax(1), est.predict(x))
    np.testing.assert_array_equal(est.predict(x), est.labels_)
    assert 'acc' in est.history_[-1] and 'acc' in est.metrics_        # y scored the run
    assert est.transform(x).shape[0] == 60
    again = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(again.predict(x), est.labels_)
    km = DeepCluster('kmeans', n_clusters=10, out=False).fit(x)
    assert not hasattr(km, 'predict_proba')
    with pytest.raises(AttributeError, match='no predict_proba'): km.predict_proba

def test_runs_are_saved_loaded_and_resumed(digits, tmp_path):
    x, y, _ = digits
    full = DeepCluster('dcsc', n_clusters=10, out=tmp_path/'full', **TINY).fit(x, y)
    part = DeepCluster('dcsc', n_clusters=10, out=tmp_path/'part', **{**TINY, 'epochs': 1}).fit(x, y)
    assert len(part.history_) == 1
    resumed = DeepCluster('dcsc', n_clusters=10, **TINY).fit(x, y, resume=tmp_path/'part')
    assert len(resumed.history_) == 3
    np.testing.assert_array_equal(resumed.labels_, full.labels_)
    with pytest.raises(DeepClustError, match='not the images'):
        DeepCluster('dcsc', n_clusters=10, **{**TINY, 'epochs': 4}).fit(x[::-1], resume=tmp_path/'part')
    assert main(['fit', '--resume', str(tmp_path/'part'), '--epochs', '4']) == 2          # the images are not in the folder
    back = DeepCluster.load(tmp_path/'full')
    np.testing.assert_array_equal(back.predict(x), full.labels_)
    np.testing.assert_allclose(back.predict_proba(x), full.predict_proba(x), atol=1e-5)
    assert back.get_params()['epochs'] == 3 and back.get_params()['method'] == 'dcsc'
    assert json.loads((tmp_path/'full'/'config.json').read_text())['hp']['dataset'] == 'memory'

def test_torch_datasets(digits):
    x, y, folder = digits
    from torchvision.datasets import ImageFolder
    import torchvision.transforms as T
    from deepclust_nb.estimator import to_image_data
    tree = folder.parent/'tree'
    for i, im in enumerate(x): (tree/str(y[i])).mkdir(parents=True, exist_ok=True); Image.fromarray(im).save(tree/str(y[i])/f'{i}.png')
    ds = ImageFolder(str(tree))                          # (PIL RGB image, label) items
    d = to_image_data(ds)
    order = [int(Path(p).stem) for p, _ in ds.samples]
    assert d.x.shape == (60, 3, 16, 16)
    torch.testing.assert_close(d.x[:, 0], torch.from_numpy(x[order]))
    assert d.classes == ds.classes and d.y.tolist() == [ds.classes.index(str(y[i])) for i in order]
    ds.transform = T.ToTensor()                          # float tensors (C, H, W) in [0, 1]: the same uint8 pixels
    torch.testing.assert_close(to_image_data(ds).x, d.x)
    from torch.utils.data import TensorDataset
    est = DeepCluster('kmeans', n_clusters=10, out=False).fit(TensorDataset(torch.from_numpy(x)[:, None], torch.from_numpy(y)))
    assert 'acc' in est.metrics_                          # the Dataset's labels score the run
    np.testing.assert_array_equal(est.labels_, DeepCluster('kmeans', n_clusters=10, out=False).fit(x).labels_)
