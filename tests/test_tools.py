"""tools/analysis/get_flops.py, tools/publish_model.py and tools/ensemble.py on small inputs."""
import hashlib
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.evaluator import DumpResults
from mmengine.logging import HistoryBuffer
from mmengine.registry import init_default_scope

import ms_plugin  # noqa: F401
from ms_plugin.apis import count_flops
from ms_plugin.apis.flops import flops_input_shape
from ms_plugin.cli import REFUSED_STATUS
from ms_plugin.utils.checkpoint import publish_checkpoint, read_checkpoint
from ms_plugin.utils.errors import InputError
from mmaction.registry import MODELS
from mmaction.structures import ActionDataSample

from conftest import load_tool

REPO = Path(__file__).resolve().parents[1]
TOOLS = REPO / 'tools'
TINY_MODEL = ("custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)\n"
              "model = dict(type='MSNet', backbone=dict(depth=18, num_segments=4), "
              "cls_head=dict(num_classes=5))\n")


def _run(*args: str) -> str:
    proc = subprocess.run([sys.executable, *args], capture_output=True, text=True, cwd=REPO)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    return proc.stdout


# ----------------------------------------------------------------- get_flops
def test_get_flops_counts_params_and_the_motion_squeeze_module(tmp_path):
    config = tmp_path / 'msnet_r18_tiny.py'
    config.write_text(TINY_MODEL)
    out = _run(str(TOOLS / 'analysis' / 'get_flops.py'), str(config), '--shape', '1', '4', '3',
               '64', '64')
    init_default_scope('mmaction')
    model = MODELS.build(Config.fromfile(str(config)).model)
    printed_params = int(re.search(r'params: [\d.]+ M\s+\((\d+)\)', out)[1])
    assert printed_params == sum(p.numel() for p in model.parameters())
    assert 'input shape: (1, 4, 3, 64, 64)' in out
    assert 'ms_layer2 (MotionSqueeze)' in out

    # In process, the same config without MS modules is TSM-R18: the difference is
    # exactly what the MS module counts, its correlation included.
    cfg = Config.fromfile(str(config))
    msnet = count_flops(cfg, (1, 4, 3, 64, 64))
    printed_flops = int(re.search(r'FLOPs: [\d.]+ G\s+\((\d+) multiply-adds\)', out)[1])
    assert printed_flops == msnet['flops']
    cfg.merge_from_dict({'model.backbone.ms_stages': ()})
    tsm = count_flops(cfg, (1, 4, 3, 64, 64))
    ms_name = 'recognizer.backbone.ms_layer2'
    assert tsm['ms_flops'] == {} and msnet['flops'] > tsm['flops']
    assert msnet['flops'] - tsm['flops'] == msnet['ms_flops'][ms_name]
    # The correlation is counted (as the matrix products that compute it run); by its
    # definition it is 3 frame pairs x 64 channels x 8x8 positions x 225 offsets.
    assert msnet['correlation_definition'][ms_name] == 3 * 64 * 8 * 8 * 225
    # The default 'fused' matching is counted as 'strided' (the same row products,
    # at least the definition's), not missed inside its autograd function.
    assert (msnet['correlation_definition'][ms_name] <= msnet['ms_matmul'][ms_name]
            < msnet['ms_flops'][ms_name])
    assert msnet['params'] - tsm['params'] == msnet['ms_params'][ms_name]


def test_get_flops_default_shape_follows_num_segments():
    cfg = Config(dict(model=dict(type='MSNet', backbone=dict(num_segments=16))))
    assert flops_input_shape(cfg, None) == (1, 16, 3, 224, 224)
    assert flops_input_shape(cfg, [112, 112]) == (1, 16, 3, 112, 112)
    with pytest.raises(InputError, match='--shape takes'):
        flops_input_shape(cfg, [3, 224, 224])


def test_get_flops_default_shape_of_a_3d_config_is_one_view_of_clip_len():
    cfg = Config.fromfile(str(REPO / 'configs' / 'msnet_slowonly_r50_k400.py'))
    clip_len = next(step['clip_len'] for step in cfg.test_pipeline
                    if step['type'] == 'SampleFrames')
    assert flops_input_shape(cfg, None) == (1, 1, 3, clip_len, 224, 224)


# ----------------------------------------------------------------- publish_model
def _training_checkpoint(model: torch.nn.Module) -> dict:
    """What MMEngine's Runner.save_checkpoint writes (the parts that matter here)."""
    optimizer = torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    model(torch.randn(2, 4)).sum().backward()
    optimizer.step()
    loss = HistoryBuffer()
    loss.update(np.float64(0.5))
    return dict(
        meta=dict(epoch=3, iter=30, cfg='model = dict(...)\n' * 50, seed=1234,
                  experiment_name='secret_run', time='20260101_000000',
                  mmengine_version='0.10.7', dataset_meta=dict(classes=('a', 'b', 'c'))),
        state_dict=model.state_dict(),
        message_hub=dict(log_scalars={'train/loss': loss}, runtime_info=dict(epoch=3)),
        optimizer=optimizer.state_dict(),
        param_schedulers=[dict(milestones={2: 1}, last_step=3, base_lrs=[0.1])])


def test_publish_model_strips_training_state_and_names_file_by_hash(tmp_path):
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8),
                                torch.nn.Linear(8, 3))
    src = tmp_path / 'epoch_3.pth'
    torch.save(_training_checkpoint(model), src)
    out = _run(str(TOOLS / 'publish_model.py'), str(src), str(tmp_path / 'published' / 'tiny.pth'))

    files = list((tmp_path / 'published').iterdir())
    assert len(files) == 1
    published = files[0]
    digest = hashlib.sha256(published.read_bytes()).hexdigest()
    assert published.name == f'tiny-{digest[:8]}.pth'
    assert str(published) in out
    assert published.stat().st_mode & 0o777 == 0o666 & ~_umask()  # not mkstemp's 0600
    # Only tensors and plain Python values left: loads safely without ms_plugin's allow-list
    # (torch < 2.4 has no allow-list at all).
    allow_list = hasattr(torch.serialization, 'get_safe_globals')
    allowed = torch.serialization.get_safe_globals() if allow_list else []
    if allow_list:
        torch.serialization.clear_safe_globals()
    try:
        ckpt = torch.load(published, weights_only=True)
        with pytest.raises(Exception, match='HistoryBuffer'):  # the input needs the allow-list
            torch.load(src, weights_only=True)
    finally:
        if allow_list:
            torch.serialization.add_safe_globals(allowed)
    assert set(ckpt) == {'state_dict', 'meta'}
    assert ckpt['meta'] == dict(epoch=3, iter=30, mmengine_version='0.10.7',
                                dataset_meta=dict(classes=('a', 'b', 'c')))
    fresh = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.BatchNorm1d(8),
                                torch.nn.Linear(8, 3))
    fresh.load_state_dict(ckpt['state_dict'], strict=True)
    for key, value in model.state_dict().items():
        torch.testing.assert_close(fresh.state_dict()[key], value, rtol=0, atol=0)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def test_publish_model_rejects_a_file_without_state_dict(tmp_path):
    src = tmp_path / 'weights_only.pth'
    torch.save(dict(meta=dict(epoch=1)), src)
    with pytest.raises(InputError, match='no "state_dict"'):
        publish_checkpoint(str(src), str(tmp_path / 'out'))
    assert [p.name for p in tmp_path.iterdir()] == ['weights_only.pth']


# ----------------------------------------------------------------- ensemble
def _dump(path: Path, scores: np.ndarray, labels: np.ndarray) -> None:
    """Write scores the way tools/test.py --dump does (DumpResults over data samples)."""
    metric = DumpResults(out_file_path=str(path))
    samples = []
    for score, label in zip(scores, labels):
        sample = ActionDataSample().set_gt_label(int(label))
        sample.set_field(torch.from_numpy(score).float(), 'pred_score')
        samples.append(sample.to_dict())  # what the Evaluator hands to metrics
    metric.process({}, samples)
    metric.compute_metrics(metric.results)


def _synthetic_runs(num_videos: int = 60, num_classes: int = 7):
    rng = np.random.default_rng(2)
    labels = rng.integers(0, num_classes, num_videos)
    onehot = np.eye(num_classes)[labels]
    # Two imperfect "models" whose errors differ, as probabilities.
    run_a = rng.dirichlet(np.ones(num_classes), num_videos) * 0.6 + onehot * 0.35 * (
        rng.random(num_videos) < 0.6)[:, None]
    run_b = rng.dirichlet(np.ones(num_classes), num_videos) * 0.6 + onehot * 0.35 * (
        rng.random(num_videos) < 0.6)[:, None]
    return labels, run_a / run_a.sum(1, keepdims=True), run_b / run_b.sum(1, keepdims=True)


def test_ensemble_weighted_top1_matches_an_independent_computation(tmp_path):
    labels, run_a, run_b = _synthetic_runs()
    _dump(tmp_path / 'a.pkl', run_a, labels)
    _dump(tmp_path / 'b.pkl', run_b, labels)
    out = _run(str(TOOLS / 'ensemble.py'), str(tmp_path / 'a.pkl'), str(tmp_path / 'b.pkl'),
               '--weights', '1', '3')
    a32, b32 = (r.astype(np.float32).astype(np.float64) for r in (run_a, run_b))  # as dumped
    fused = (a32 + 3 * b32) / 4
    expected_top1 = 100 * np.mean(fused.argmax(1) == labels)
    single_top1 = [100 * np.mean(r.argmax(1) == labels) for r in (run_a, run_b)]
    assert expected_top1 not in single_top1  # the fusion changes the answer
    assert expected_top1 != 100 * np.mean((a32 + b32).argmax(1) == labels)  # so do the weights
    got = float(re.search(r'ensemble of 2 \(60 videos\): top1 ([\d.]+), top5 ([\d.]+)', out)[1])
    assert got == pytest.approx(expected_top1, abs=0.005)


def test_ensemble_softmax_option_and_mismatched_runs(tmp_path, capsys):
    ensemble = load_tool('ensemble')
    labels, run_a, run_b = _synthetic_runs(num_videos=40)
    logits_a, logits_b = np.log(run_a) * 3, np.log(run_b) * 0.5  # different temperatures
    _dump(tmp_path / 'a.pkl', logits_a, labels)
    _dump(tmp_path / 'b.pkl', logits_b, labels)
    ensemble.main([str(tmp_path / 'a.pkl'), str(tmp_path / 'b.pkl'), '--apply-softmax',
                   '--out', str(tmp_path / 'fused.pkl')])
    soft = [np.exp(x) / np.exp(x).sum(1, keepdims=True) for x in (logits_a, logits_b)]
    fused = (soft[0] + soft[1]) / 2
    written, written_labels = ensemble.load_dump(str(tmp_path / 'fused.pkl'))
    np.testing.assert_allclose(written, fused, rtol=1e-5)
    np.testing.assert_array_equal(written_labels, labels)
    rank = (fused > fused[np.arange(40), labels][:, None]).sum(1)
    line = [ln for ln in capsys.readouterr().out.splitlines() if ln.startswith('ensemble')][0]
    assert f'top1 {100 * np.mean(rank < 1):.2f}, top5 {100 * np.mean(rank < 5):.2f}' in line

    _dump(tmp_path / 'c.pkl', run_b[:30], labels[:30])
    with pytest.raises(InputError, match='does not cover the same videos'):
        ensemble.main([str(tmp_path / 'a.pkl'), str(tmp_path / 'c.pkl')])
    with pytest.raises(InputError, match='3 weights for 2 dumps'):
        ensemble.main([str(tmp_path / 'a.pkl'), str(tmp_path / 'b.pkl'), '--weights', '1', '1',
                       '1'])


def test_benchmark_ms_prints_shares_and_parts():
    out = _run(str(TOOLS / 'analysis' / 'benchmark_ms.py'), '--depth', '18', '--frames', '3',
               '--size', '64', '--repeats', '1', '--warmup', '0', '--threads', '1', '--parts')
    rows = re.findall(r'\| (forward(?:\+backward)?) \| ([\d.]+) \| ([\d.]+) \| ([\d.]+)% '
                      r'\(paired ([\d.]+)%\) \|', out)
    assert [r[0] for r in rows] == ['forward', 'forward+backward'], out
    for _, total, part, share, paired in rows:
        # The times are printed to 0.1 ms, the share from the unrounded ones.
        assert float(part) > 0
        assert float(share) == pytest.approx(100 * float(part) / float(total), rel=0.1)
        # One repeat: the median of the ratios is the ratio of the medians.
        assert float(paired) == pytest.approx(float(share), abs=0.011)
    # MS input after res3 of R18 at 64 px: 128 channels, 8x8.
    assert 'MS module input (3, 128, 8, 8)' in out
    parts = re.search(r'parts \(eval, no grad\): reduce ([\d.]+) ms, correlation ([\d.]+) ms, '
                      r'soft_argmax ([\d.]+) ms, transform ([\d.]+) ms', out)
    assert parts and all(float(v) > 0 for v in parts.groups()), out
    assert re.search(r'row matmuls [\d.]+ ms, naive shift-and-multiply loop [\d.]+ ms', out)
    fused = re.search(r'after fuse_conv_bn .*: TSM-R18 ([\d.]+) ms, TSM\+MS-R18 ([\d.]+) ms, '
                      r'ratio ([\d.]+) \(\+?-?[\d.]+%\), paired ([\d.]+)', out)
    assert fused, out
    tsm, msnet, ratio, paired = map(float, fused.groups())
    assert ratio == pytest.approx(msnet / tsm, rel=0.1)
    assert paired == pytest.approx(ratio, abs=1.1e-4)


def test_ablate_ms_times_every_variant_against_the_module_as_it_is():
    out = _run(str(TOOLS / 'analysis' / 'ablate_ms.py'), '--depth', '18', '--frames', '3',
               '--size', '64', '--repeats', '1', '--warmup', '0', '--threads', '1')
    rows = dict(re.findall(r'^\| (\w+) \| [\d.]+ \(as_is [\d.]+\) \|.*\| ([\d.e+-]+) \|$',
                           out, flags=re.M))
    assert set(rows) == {'autograd_checkpoint', 'no_checkpoint', 'allpairs', 'plain_relu_add',
                         'masked_fill_relu', 'bmm_1x1'}, out
    # Every variant computes the same module: its output differs by rounding only.
    assert all(float(diff) < 1e-4 for diff in rows.values()), out


def test_checkpoint_reading_errors_name_the_file_and_the_problem(tmp_path):
    damaged = tmp_path / 'damaged.pth'
    damaged.write_bytes(b'not a checkpoint')
    with pytest.raises(InputError, match=r'^checkpoint .*damaged\.pth: unreadable'):
        read_checkpoint(str(damaged))
    listed = tmp_path / 'list.pth'
    torch.save([torch.zeros(1)], listed)
    with pytest.raises(InputError, match='holds a list, not a checkpoint dict'):
        read_checkpoint(str(listed))
    good = tmp_path / 'good.pth'
    torch.save(dict(state_dict=dict(w=torch.ones(2))), good)
    assert torch.equal(read_checkpoint(str(good))['state_dict']['w'], torch.ones(2))


# ----------------------------------------------------------------- one-line entry errors
def _unwritable_folder(tmp_path: Path) -> Path:
    """A folder nobody can write into (root ignores modes: then one under a file)."""
    if os.geteuid() == 0:
        (tmp_path / 'a_file').write_text('')
        return tmp_path / 'a_file' / 'out'
    folder = tmp_path / 'read_only'
    folder.mkdir()
    folder.chmod(0o555)
    return folder


def _entry_error_cases(tmp_path: Path):
    """(command line, the path the one line must name) for each tool this layer serves."""
    config = str(REPO / 'tests' / 'configs' / 'tiny_msnet_video.py')
    missing = str(tmp_path / 'missing')
    locked = _unwritable_folder(tmp_path)
    video = tmp_path / 'clip.mp4'
    video.write_bytes(b'')
    return {
        'train config': (['train.py', missing + '.py'], missing + '.py'),
        'test checkpoint': (['test.py', config, missing + '.pth'], missing + '.pth'),
        'ensemble dump': (['ensemble.py', missing + '.pkl', missing + '.pkl'], missing + '.pkl'),
        'check_dataset config': (['data/check_dataset.py', missing + '.py'], missing + '.py'),
        'get_flops config': (['analysis/get_flops.py', missing + '.py'], missing + '.py'),
        'visualize input': (['visualize_motion.py', config, missing, '--out',
                             str(tmp_path / 'm.png')], missing),
        'visualize checkpoint': (['visualize_motion.py', config, str(video), '--checkpoint',
                                  missing + '.pth', '--out', str(tmp_path / 'm.png')],
                                 missing + '.pth'),
        'visualize out': (['visualize_motion.py', config, str(video), '--out',
                           str(locked / 'm.png')], str(locked)),
        'inference video': (['inference.py', missing, config], missing),
        'inference checkpoint': (['inference.py', str(video), config, missing + '.pth'],
                                 missing + '.pth'),
        'export config': (['deployment/export_onnx.py', missing + '.py', '--out',
                           str(tmp_path / 'm.onnx')], missing + '.py'),
        'export out': (['deployment/export_onnx.py', config, '--out', str(locked / 'm.onnx')],
                       str(locked)),
        'convert source': (['convert_official_ckpt.py', missing + '.tar',
                            str(tmp_path / 'c.pth')], missing + '.tar'),
        'publish input': (['publish_model.py', missing + '.pth', str(tmp_path / 'p')],
                          missing + '.pth'),
        'synthetic data out': (['data/synthetic_motion.py', str(locked / 'data')], str(locked)),
    }


def test_missing_or_unwritable_paths_stop_each_tool_with_one_line(tmp_path):
    """Each case: exit status 2, one line on stderr naming the path, no traceback, fast."""
    cases = _entry_error_cases(tmp_path)
    env = dict(os.environ, PYTHONWARNINGS='ignore', OMP_NUM_THREADS='1')
    procs = {name: subprocess.Popen([sys.executable, str(TOOLS / argv[0]), *argv[1:]],
                                    cwd=REPO, env=env, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
             for name, (argv, _) in cases.items()}
    for name, proc in procs.items():
        out, err = proc.communicate(timeout=300)
        path = cases[name][1]
        lines = err.strip().splitlines()
        assert proc.returncode == REFUSED_STATUS, (name, err)
        assert len(lines) == 1 and path in lines[0], (name, err)
        assert lines[0].startswith(f'{Path(cases[name][0][0]).name}: error: '), (name, err)
        assert 'Traceback' not in err and 'wrote' not in out, (name, out, err)

