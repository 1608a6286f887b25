"""Deployment: the ONNX export contract, tools/deployment/export_onnx.py,
tools/inference.py in PyTorch and ONNX Runtime, and `mim search ms_plugin`."""
import logging
import re
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import numpy as np
import pytest
import torch
import yaml
from conftest import VENV_BIN, load_tool, write_clip_frames, write_frame_folder, write_mp4
from mmengine.logging import MMLogger

from ms_plugin.apis import (RandomWeightsWarning, build_recognizer, config_test_pipeline,
                            load_clip)
from ms_plugin.apis.inference import one_view_pipeline, views_and_size
from ms_plugin.deployment import (WholeRecognizer, dynamo_supported, export_onnx,
                                  max_relative_error, reference_scores)
from ms_plugin.models import motion_squeeze_modules
from ms_plugin.utils.errors import InputError

REPO = Path(__file__).resolve().parents[1]
TINY_VIDEO_CONFIG = REPO / 'tests' / 'configs' / 'tiny_msnet_video.py'
TIMM_CONFIG = REPO / 'configs' / 'msnet_timm-mobilenetv3_sthv2.py'
TOLERANCE = 1e-4
# The tiny config's test pipeline: 2 clips (twice_sample) x 3 crops x 4 frames of 32x32.
TINY_SHAPE = (24, 3, 32, 32)
# MobileNetV3 MSNet, made small: 4 frames, 5 classes, 2 views of 64x64, no ImageNet file.
TIMM_OPTIONS = {'model.backbone.pretrained': None, 'model.backbone.num_segments': 4,
                'model.cls_head.num_segments': 4, 'model.cls_head.num_classes': 5}
TIMM_SHAPE = (8, 3, 64, 64)

MMLogger.get_current_instance().setLevel(logging.WARNING)


def _frames(batch, shape, seed=0):
    generator = torch.Generator().manual_seed(seed)
    return torch.rand((batch, ) + tuple(shape), generator=generator) * 255


def _tiny_model(correlation_impl=None, **cfg_options):
    """The tiny MSNet with seeded weights; logits scaled so that classes are far apart."""
    torch.manual_seed(0)
    with pytest.warns(RandomWeightsWarning):
        model, cfg = build_recognizer(str(TINY_VIDEO_CONFIG), cfg_options=cfg_options or None,
                                      correlation_impl=correlation_impl)
    model.init_weights()
    with torch.no_grad():
        model.cls_head.fc_cls.weight.mul_(50)
    return model.eval(), cfg


@pytest.fixture(scope='module')
def tiny_checkpoint(tmp_path_factory):
    model, _ = _tiny_model()
    path = tmp_path_factory.mktemp('ckpt') / 'tiny_msnet.pth'
    torch.save({'meta': {'epoch': 1}, 'state_dict': model.state_dict()}, path)
    return path


# ------------------------------------------------------------ the module in PyTorch
@pytest.mark.parametrize('average_clips,to_rgb,views', [
    ('prob', False, 6), ('score', False, 6), ('prob', True, 6), (None, False, 1)])
def test_exportable_recognizer_equals_test_step(average_clips, to_rgb, views):
    model, _ = _tiny_model(**{'model.cls_head.average_clips': average_clips,
                              'model.data_preprocessor.to_rgb': to_rgb})
    frames = _frames(3, (4 * views, 3, 32, 32))
    # average_clips=None: pred_score is the [views, C] scores of a sample, [1, C] here.
    expected = reference_scores(model, frames).reshape(3, 3)
    actual = WholeRecognizer(model)(frames)
    assert actual.shape == (3, 3)
    torch.testing.assert_close(actual, expected, rtol=1e-5, atol=1e-6)


def test_exportable_recognizer_tsn_head_equals_test_step():
    """TSNHead averages all V*T frames in its consensus: one 'view' per sample."""
    torch.manual_seed(0)
    with pytest.warns(RandomWeightsWarning):
        model, _ = build_recognizer(str(REPO / 'configs/synthetic/tsn_r18_synthetic.py'))
    frames = _frames(2, (16, 3, 32, 32))
    torch.testing.assert_close(WholeRecognizer(model)(frames),
                               reference_scores(model, frames), rtol=1e-5, atol=1e-6)


def test_exportable_recognizer_stays_in_eval_mode():
    model, _ = _tiny_model()
    wrapper = WholeRecognizer(model)
    wrapper.train()  # what an exporter does after tracing a module that was training
    assert not any(module.training for module in wrapper.modules())


def test_views_and_size_of_test_pipelines():
    assert views_and_size([dict(type='SampleFrames', clip_len=1, num_clips=8, twice_sample=True),
                           dict(type='Resize', scale=(320, 240), keep_ratio=False),
                           dict(type='ThreeCrop', crop_size=240)]) == (48, (240, 240))
    assert views_and_size([dict(type='SampleFrames', clip_len=1, num_clips=8),
                           dict(type='Resize', scale=(-1, 256)),
                           dict(type='CenterCrop', crop_size=224)]) == (8, (224, 224))
    assert views_and_size([dict(type='SampleFrames', clip_len=1, num_clips=8)]) == (8, None)


# ------------------------------------------------------------ the ONNX contract
def _check_onnx_file(path, model, shape):
    """The file's input/output names and shapes, and its scores for N = 1 and N = 3."""
    onnx = pytest.importorskip('onnx')
    ort = pytest.importorskip('onnxruntime')
    graph = onnx.load(str(path)).graph
    assert [i.name for i in graph.input] == ['frames']
    assert [o.name for o in graph.output] == ['scores']
    session = ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])
    declared = session.get_inputs()[0].shape
    assert isinstance(declared[0], str) and declared[1:] == list(shape), declared
    for batch in (1, 3):
        frames = _frames(batch, shape, seed=batch)
        expected = reference_scores(model, frames).numpy()
        (scores, ) = session.run(None, {'frames': frames.numpy()})
        assert scores.shape == expected.shape == (batch, expected.shape[1])
        error = max_relative_error(scores, expected)
        assert error < TOLERANCE, f'N={batch}: relative error {error:.2e}'
        assert (scores.argmax(1) == expected.argmax(1)).all()


def _exporter_param(dynamo):
    reason = f'the dynamo ONNX exporter needs torch >= 2.5 and onnxscript ({torch.__version__})'
    marks = [pytest.mark.skipif(not dynamo_supported(), reason=reason)] if dynamo else []
    return pytest.param(dynamo, marks=marks, id='dynamo' if dynamo else 'torchscript')


@pytest.mark.parametrize('dynamo', [_exporter_param(False), _exporter_param(True)])
def test_onnx_contract_msnet(tmp_path, dynamo):
    pytest.importorskip('onnxruntime')
    model, _ = _tiny_model(correlation_impl='allpairs')
    path = tmp_path / 'msnet.onnx'
    used = export_onnx(WholeRecognizer(model), _frames(2, TINY_SHAPE), str(path),
                       dynamo=dynamo)
    assert used is dynamo
    _check_onnx_file(path, model, TINY_SHAPE)


def test_onnx_contract_timm(tmp_path):
    pytest.importorskip('onnxruntime')
    torch.manual_seed(0)
    with pytest.warns(RandomWeightsWarning):
        model, _ = build_recognizer(str(TIMM_CONFIG), cfg_options=TIMM_OPTIONS,
                                    correlation_impl='allpairs')
    with torch.no_grad():
        model.cls_head.fc_cls.weight.normal_(0, 0.5)
    path = tmp_path / 'timm.onnx'
    export_onnx(WholeRecognizer(model), _frames(2, TIMM_SHAPE), str(path))
    _check_onnx_file(path, model, TIMM_SHAPE)


def test_correlation_impl_is_chosen_when_the_model_is_built(tmp_path):
    """The exporter exports the model as built: a training model ('fused') is refused."""
    fused, _ = _tiny_model()
    allpairs, _ = _tiny_model(correlation_impl='allpairs')
    assert fused.backbone.ms_layer2.correlation_impl == 'fused'
    assert allpairs.backbone.ms_layer2.correlation_impl == 'allpairs'
    frames = _frames(2, TINY_SHAPE)
    torch.testing.assert_close(WholeRecognizer(allpairs)(frames), WholeRecognizer(fused)(frames),
                               rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="correlation_impl='allpairs'"):
        export_onnx(WholeRecognizer(fused), frames, str(tmp_path / 'x.onnx'), dynamo=False)
    assert not (tmp_path / 'x.onnx').exists()
    # A model without MotionSqueeze modules is not changed by the choice.
    with pytest.warns(RandomWeightsWarning):
        tsn, _ = build_recognizer(str(REPO / 'configs/synthetic/tsn_r18_synthetic.py'),
                                  correlation_impl='allpairs')
    assert not motion_squeeze_modules(tsn)


# ------------------------------------------------------------ tools/deployment/export_onnx.py
def test_export_tool_writes_and_checks(tmp_path, tiny_checkpoint, capsys):
    pytest.importorskip('onnxruntime')
    tool = load_tool('deployment/export_onnx')
    out = tmp_path / 'tiny.onnx'
    assert tool.main([str(TINY_VIDEO_CONFIG), str(tiny_checkpoint), '--out', str(out)]) == 0
    printed = capsys.readouterr().out
    assert out.is_file()
    assert '[N, 24, 3, 32, 32]' in printed  # the shape from the config's test pipeline
    errors = [float(e) for e in re.findall(r'N=\d+: max relative error (\S+)', printed)]
    assert len(errors) == 2 and max(errors) <= TOLERANCE
    # An error above the tolerance makes the tool fail.
    assert tool.main([str(TINY_VIDEO_CONFIG), str(tiny_checkpoint), '--out', str(out),
                      '--check-batches', '1', '--tolerance=-1']) == 1


def test_export_tool_warns_without_checkpoint(tmp_path):
    pytest.importorskip('onnxruntime')
    tool = load_tool('deployment/export_onnx')
    with pytest.warns(RandomWeightsWarning, match='random'):
        assert tool.main([str(TINY_VIDEO_CONFIG), '--out', str(tmp_path / 'r.onnx'),
                          '--check-batches', '1']) == 0


def test_export_tool_rejects_a_checkpoint_of_another_model(tmp_path, tiny_checkpoint):
    tool = load_tool('deployment/export_onnx')
    state = torch.load(tiny_checkpoint, weights_only=True)['state_dict']
    state['backbone.extra.weight'] = torch.zeros(1)
    del state['cls_head.fc_cls.bias']
    wrong = tmp_path / 'wrong.pth'
    torch.save({'state_dict': state}, wrong)
    with pytest.raises(InputError) as exit_info:
        tool.main([str(TINY_VIDEO_CONFIG), str(wrong), '--out', str(tmp_path / 'w.onnx')])
    message = str(exit_info.value)
    assert 'missing' in message and 'cls_head.fc_cls.bias' in message
    assert 'unexpected' in message and 'backbone.extra.weight' in message
    assert not (tmp_path / 'w.onnx').exists()


# ------------------------------------------------------------ tools/inference.py
@pytest.fixture(scope='module')
def clip(tmp_path_factory):
    """The same 12-frame clip as an mp4 file and as a folder of JPEG frames."""
    root = tmp_path_factory.mktemp('clip')
    frames = write_clip_frames(1, num_frames=12)
    write_mp4(root / 'clip.mp4', frames)
    write_frame_folder(root / 'frames', frames, 'img_{:05}.jpg')
    return root


def _printed_top_k(text):
    return re.findall(r'^\s*\d+\. (\d+) (\w+): ([\d.]+)$', text, flags=re.M)


def test_inference_tool_pytorch_and_onnx_agree(tmp_path, clip, tiny_checkpoint, capsys):
    pytest.importorskip('onnxruntime')
    export = load_tool('deployment/export_onnx')
    onnx_file = tmp_path / 'tiny.onnx'
    assert export.main([str(TINY_VIDEO_CONFIG), str(tiny_checkpoint), '--out', str(onnx_file),
                        '--check-batches', '1']) == 0
    labels = tmp_path / 'labels.txt'
    labels.write_text('right\ndown\nupleft\n')
    tool = load_tool('inference')
    results = {}
    for video in ('clip.mp4', 'frames'):
        for backend in (['--onnx', str(onnx_file)], [str(tiny_checkpoint)]):
            capsys.readouterr()
            argv = [str(clip / video), str(TINY_VIDEO_CONFIG)] + backend
            assert tool.main(argv + ['--label-map', str(labels), '--top-k', '3']) == 0
            printed = _printed_top_k(capsys.readouterr().out)
            assert len(printed) == 3
            assert sorted(name for _, name, _ in printed) == ['down', 'right', 'upleft']
            results[video, backend[0]] = printed
    for video in ('clip.mp4', 'frames'):
        onnx_top, torch_top = results[video, '--onnx'], results[video, str(tiny_checkpoint)]
        assert [c for c, _, _ in onnx_top] == [c for c, _, _ in torch_top]
        np.testing.assert_allclose([float(s) for _, _, s in onnx_top],
                                   [float(s) for _, _, s in torch_top], atol=2e-4)


def test_load_clip_reads_video_and_folder_alike(clip):
    _, cfg = _tiny_model()
    pipeline = cfg.test_dataloader.dataset.pipeline
    from_video = load_clip(str(clip / 'clip.mp4'), pipeline).frames
    from_folder = load_clip(str(clip / 'frames'), pipeline).frames
    assert from_video.shape == from_folder.shape == TINY_SHAPE
    assert from_video.dtype == torch.float32 and 0 <= from_video.min() and from_video.max() <= 255
    # mp4 and JPEG compress differently; the frames are the same scenes.
    assert (from_video - from_folder).abs().mean() < 20


def test_build_recognizer_names_the_converter_for_an_authors_checkpoint(tmp_path,
                                                                        tiny_checkpoint):
    state = torch.load(tiny_checkpoint, weights_only=True)['state_dict']
    authors = {f'module.base_model.{key}': value for key, value in state.items()}
    torch.save({'state_dict': authors}, tmp_path / 'authors.pth.tar')
    with pytest.raises(InputError, match='convert_official_ckpt.py'):
        build_recognizer(str(TINY_VIDEO_CONFIG), str(tmp_path / 'authors.pth.tar'))
    model, _ = build_recognizer(str(TINY_VIDEO_CONFIG), str(tiny_checkpoint))
    assert not model.training
    torch.testing.assert_close(model.state_dict(), state)


def test_one_view_clip_of_video_and_folder_alike(clip):
    """The test pipeline cut to one view (no twice_sample, CenterCrop for ThreeCrop)."""
    _, cfg = _tiny_model()
    frames = TINY_SHAPE[0] // 6  # 2 clips x 3 crops in the full pipeline
    pipeline = one_view_pipeline(config_test_pipeline(cfg), frames)
    assert not any(step.get('twice_sample') for step in pipeline)
    assert not any(step['type'] == 'ThreeCrop' for step in pipeline)
    from_video = load_clip(str(clip / 'clip.mp4'), pipeline)
    from_folder = load_clip(str(clip / 'frames'), pipeline)
    assert from_video.frames.shape == from_folder.frames.shape == (frames, 3, 32, 32)
    assert from_video.frame_inds == from_folder.frame_inds
    assert len(from_video.frame_inds) == frames and from_video.frame_inds == sorted(
        from_video.frame_inds)
    assert (from_video.frames - from_folder.frames).abs().mean() < 20


@pytest.mark.parametrize('make,message', [
    (lambda root: _write(root / 'text.mp4', b'not a video'), 'cannot read video'),
    (lambda root: _write(root / 'empty.mp4', b''), 'cannot read video'),
    (lambda root: _mkdir(root / 'no_frames'), 'no frames'),
])
def test_inference_tool_rejects_bad_videos(tmp_path, make, message):
    tool = load_tool('inference')
    video = make(tmp_path)
    with pytest.raises(InputError) as exit_info:
        with pytest.warns(RandomWeightsWarning):
            tool.main([str(video), str(TINY_VIDEO_CONFIG)])
    assert str(video) in str(exit_info.value) and message in str(exit_info.value)


def test_load_clip_rejects_a_video_without_frames(tmp_path):
    import cv2
    path = tmp_path / 'zero_frames.mp4'
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*'mp4v'), 8, (32, 32))
    writer.release()
    _, cfg = _tiny_model()
    with pytest.raises(InputError, match='zero_frames.mp4'):
        load_clip(str(path), cfg.test_dataloader.dataset.pipeline)


def _write(path, data):
    path.write_bytes(data)
    return path


def _mkdir(path):
    path.mkdir()
    return path


# ------------------------------------------------------------ mim search
def _metafile_models():
    with open(REPO / 'configs' / 'metafile.yml') as file:
        return [model['Name'] for model in yaml.safe_load(file)['Models']]


def test_mim_folder_in_the_source_tree_points_at_the_repository():
    """Editable installs: ms_plugin/.mim links to the repository's files."""
    mim = REPO / 'ms_plugin' / '.mim'
    assert (mim / 'model-index.yml').resolve() == (REPO / 'model-index.yml').resolve()
    assert (mim / 'configs').resolve() == (REPO / 'configs').resolve()
    assert (mim / 'tools' / 'train.py').is_file()


def test_mim_search_reads_the_source_tree_mim_folder(tmp_path):
    """Where mim's lookup lands on the source package (a `setup.py develop`
    egg-link, or a site-packages link to it), the links in ms_plugin/.mim serve
    the repository's index."""
    site = tmp_path / 'site'
    (site / 'ms_plugin-0.1.0.dist-info').mkdir(parents=True)
    (site / 'ms_plugin-0.1.0.dist-info' / 'METADATA').write_text(
        'Metadata-Version: 2.1\nName: ms_plugin\nVersion: 0.1.0\n')
    (site / 'ms_plugin-0.1.0.dist-info' / 'top_level.txt').write_text('ms_plugin\n')
    (site / 'ms_plugin').symlink_to(REPO / 'ms_plugin', target_is_directory=True)
    printed = _mim(site, '--config', 'msnet_r50_16f_sthv2')
    assert re.findall(r'^config id: (\S+)$', printed, flags=re.M) == ['msnet_r50_16f_sthv2']


@pytest.fixture(scope='module')
def installed_wheel(tmp_path_factory):
    """The package built as a wheel (from a copy of the sources) and unpacked as a
    regular install: ``(site folder, wheel file names)``."""
    root = tmp_path_factory.mktemp('wheel')
    source = root / 'src'
    source.mkdir()
    ignore = shutil.ignore_patterns('__pycache__', '*.pyc', '*.egg-info')
    for name in ('setup.py', 'setup.cfg', 'pyproject.toml', 'README.md', 'model-index.yml'):
        shutil.copy2(REPO / name, source / name)
    for name in ('ms_plugin', 'configs', 'tools'):
        shutil.copytree(REPO / name, source / name, symlinks=True, ignore=ignore)
    proc = subprocess.run(
        [sys.executable, '-m', 'pip', 'wheel', str(source), '--no-deps', '--no-build-isolation',
         '--no-index', '-q', '-w', str(root / 'dist')], capture_output=True, text=True,
        timeout=300)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (wheel, ) = (root / 'dist').glob('ms_plugin-*.whl')
    site = root / 'site'
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        archive.extractall(site)
    return site, names


def test_wheel_holds_the_model_index_configs_and_tools(installed_wheel):
    site, names = installed_wheel
    configs = sorted(str(p.relative_to(REPO)) for p in (REPO / 'configs').rglob('*.py'))
    for path in ['model-index.yml', 'configs/metafile.yml'] + configs + [
            'tools/train.py', 'tools/test.py', 'tools/deployment/export_onnx.py']:
        assert f'ms_plugin/.mim/{path}' in names, path
    # Files, not links: the model index is the repository's text.
    copied = site / 'ms_plugin' / '.mim' / 'model-index.yml'
    assert not copied.is_symlink()
    assert copied.read_text() == (REPO / 'model-index.yml').read_text()


def _mim(site, *args):
    mim = VENV_BIN / 'mim'
    if not mim.exists():
        pytest.skip('the mim command (openmim) is not installed')
    env = {'PATH': str(VENV_BIN), 'PYTHONPATH': str(site), 'PYTHONWARNINGS': 'ignore',
           'HOME': str(site), 'NO_COLOR': '1'}
    proc = subprocess.run([str(mim), 'search', 'ms_plugin', *args], capture_output=True,
                          text=True, env=env, cwd=str(site), timeout=120)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


def test_mim_search_lists_every_config(installed_wheel):
    site, _ = installed_wheel
    printed = _mim(site)
    listed = re.findall(r'^config id: (\S+)$', printed, flags=re.M)
    assert listed and sorted(listed) == sorted(_metafile_models())
    assert 'sthv1/top_1_accuracy' in printed and '50.9' in printed


def test_mim_search_shows_one_config(installed_wheel):
    site, _ = installed_wheel
    printed = _mim(site, '--config', 'msnet_r50_sthv1')
    assert re.findall(r'^config id: (\S+)$', printed, flags=re.M) == ['msnet_r50_sthv1']
    assert re.search(r'^config\s+configs/msnet_r50_sthv1\.py$', printed, flags=re.M)
    # The metadata comes from configs/metafile.yml (mim lower-cases it).
    metafile = (REPO / 'configs' / 'metafile.yml').read_text()
    entry = metafile[metafile.index('- Name: msnet_r50_sthv1\n'):]
    flops = re.search(r'FLOPs: (\S+)', entry).group(1)
    assert re.search(rf'^flops\s+{re.escape(flops.lower())}$', printed, flags=re.M), printed


# ------------------------------------------------------------ benchmark_ms.py --onnx
def test_benchmark_onnx_comparison_prints_both_backbones_and_the_cost(capsys):
    pytest.importorskip('onnxruntime')
    import argparse
    tool = load_tool('analysis/benchmark_ms')
    args = argparse.Namespace(depth=18, frames=3, size=64, repeats=1, warmup=0, onnx_threads=1,
                              onnx_exporter='torchscript')
    tool.onnx_comparison(args)
    printed = capsys.readouterr().out
    assert 'TorchScript exporter' in printed and 'CPU: ' in printed
    row = re.search(r'^\| ONNX Runtime \| ([\d.]+) \| ([\d.]+) \| (-?[\d.]+)% '
                    r'\(paired (-?[\d.]+)%\) \|$', printed, flags=re.M)
    assert row, printed
    tsm, tsm_ms, cost, paired = (float(value) for value in row.groups())
    assert paired == pytest.approx(cost, abs=0.011)  # one repeat: the same ratio
    assert tsm > 0 and tsm_ms > 0
    # The times are printed to 0.1 ms, the cost from the unrounded ones.
    rounding = 100 * 0.05 * (1 / tsm + tsm_ms / tsm ** 2)
    assert cost == pytest.approx(100 * (tsm_ms - tsm) / tsm, abs=rounding + 0.01)


def test_benchmark_onnx_profile_attributes_the_ms_nodes_of_the_backbone(capsys):
    pytest.importorskip('onnxruntime')
    import argparse

    from ms_plugin.models.backbones import ResNetTSM_MS
    tool = load_tool('analysis/benchmark_ms')
    torch.manual_seed(0)
    backbone = ResNetTSM_MS(depth=18, num_segments=3, pretrained=None, pretrained2d=False)
    backbone.init_weights()
    args = argparse.Namespace(repeats=2, warmup=1, onnx_threads=1)
    tool.onnx_ms_profile(backbone, torch.randn(3, 3, 64, 64), args)
    printed = capsys.readouterr().out
    line = re.search(r'input \(3, 3, 64, 64\), 1 threads, 3 runs\): MS nodes ([\d.]+) ms .*, '
                     r'([\d.]+)% of the other nodes\' ([\d.]+) ms; its convs and residual sum '
                     r'alone ([\d.]+) ms .*by operator type: (.*)$', printed, flags=re.M)
    assert line, printed
    total, share, others, convs = (float(v) for v in line.groups()[:4])
    ops = {op: float(t) for op, t in re.findall(r'(\w+) ([\d.]+) ms', line.group(5))}
    # The exported correlation is a matrix product and a gather (correlation_impl=allpairs),
    # the transform convs; the shares add up.
    assert 'Gather' in ops and any('MatMul' in op for op in ops), ops
    assert any('Conv' in op for op in ops), ops
    assert total == pytest.approx(sum(ops.values()), abs=0.01 * len(ops) + 0.01)
    assert 0 < convs < total and others > 0
    assert share == pytest.approx(100 * total / others, rel=0.05, abs=0.02)
    assert backbone.ms_layer2.correlation_impl == 'fused'  # the export used a copy
