"""model-index.yml / configs/metafile.yml: loadable, complete, honest about results."""
from pathlib import Path

import pytest
from modelindex.load_model_index import load

REPO = Path(__file__).resolve().parents[1]
# The paper's numbers (reference.md, "Published results"): config -> (top-1, top-5 or None).
PAPER_RESULTS = {
    'configs/msnet_r50_sthv1.py': (50.9, None),
    'configs/msnet_r50_16f_sthv1.py': (52.1, None),
    'configs/msnet_r50_sthv2.py': (63.0, 88.4),
    'configs/msnet_r50_16f_sthv2.py': (64.7, 89.4),
    'configs/msnet_r50_k400.py': (76.4, None),
    'configs/msnet_r50_hmdb51.py': (77.4, None),
}


@pytest.fixture(scope='module')
def index():
    return load(str(REPO / 'model-index.yml'))


def _config_files():
    """Every config a user can run: not the shared pieces under a _base_ folder or named so."""
    return sorted(
        str(path.relative_to(REPO)) for path in (REPO / 'configs').rglob('*.py')
        if '_base_' not in path.relative_to(REPO / 'configs').parts
        and not path.name.startswith('_base_'))


def test_index_loads_and_passes_modelindex_checks(index):
    assert index.check(silent=True) == []
    names = [model.name for model in index.models]
    assert len(names) == len(set(names))
    collections = {collection.name for collection in index.collections}
    assert all(model.in_collection in collections for model in index.models)


def test_every_config_path_exists_and_every_config_has_an_entry(index):
    indexed = [model.config for model in index.models]
    missing_files = [path for path in indexed if not (REPO / path).is_file()]
    assert not missing_files, f'Config paths that do not exist: {missing_files}'
    configs = _config_files()
    assert 'configs/msnet_r50_sthv1.py' in configs
    unindexed = sorted(set(configs) - set(indexed))
    assert not unindexed, f'configs without an entry in configs/metafile.yml: {unindexed}'
    for model in index.models:  # the entry is named after its config file
        assert Path(model.config).stem == model.name


def test_results_are_the_papers_and_marked_so(index):
    by_config = {model.config: model for model in index.models}
    for config, (top1, top5) in PAPER_RESULTS.items():
        model = by_config[config]
        metrics = model.results[0].metrics
        assert metrics['Top 1 Accuracy'] == top1
        assert metrics.get('Top 5 Accuracy') == top5
        assert 'paper' in model.data['Results Source']
    for model in index.models:
        assert model.weights is None, f'{model.name}: no weights are released'
        if model.results:
            assert 'paper' in model.data['Results Source'], model.name
