"""ms_plugin.apis, as a user calls it from Python: config, scores, motion, its file."""
import numpy as np
import pytest
import torch
from mmengine.config import Config
from mmengine.registry import DefaultScope

from conftest import TEST_CONFIGS, write_clip_frames, write_frame_folder, write_mp4
from ms_plugin.apis import (build_recognizer, config_test_pipeline, load_clip, load_config,
                            save_motion, video_motion, video_scores)
from ms_plugin.deployment import reference_scores
from ms_plugin.utils.errors import InputError

CONFIG = TEST_CONFIGS / 'tiny_msnet_video.py'


@pytest.fixture(scope='module')
def model_and_clip(tmp_path_factory):
    root = tmp_path_factory.mktemp('apis')
    frames = write_clip_frames(2, num_frames=12)
    write_mp4(root / 'clip.mp4', frames)
    write_frame_folder(root / 'frames', frames, 'img_{:05}.jpg')
    torch.manual_seed(0)
    model, cfg = build_recognizer(str(CONFIG), warn_random=False)
    model.init_weights()
    return model.eval(), cfg, root


def test_load_config_merges_copies_and_sets_the_scope():
    cfg = Config.fromfile(str(CONFIG))
    merged = load_config(cfg, {'model.cls_head.num_classes': 7})
    assert merged.model.cls_head.num_classes == 7
    assert cfg.model.cls_head.num_classes != 7  # the given Config is not changed
    assert DefaultScope.get_current_instance().scope_name == 'mmaction'


def test_video_scores_are_the_test_steps_of_the_clip(model_and_clip):
    model, cfg, root = model_and_clip
    for video in ('clip.mp4', 'frames'):
        scores = video_scores(model, str(root / video))
        frames = load_clip(str(root / video), config_test_pipeline(cfg)).frames
        expected = reference_scores(model, frames[None])[0].numpy()
        assert scores.shape == (cfg.model.cls_head.num_classes, )
        np.testing.assert_allclose(scores, expected, rtol=1e-5, atol=1e-6)
    with pytest.raises(InputError, match='no such file'):
        video_scores(model, str(root / 'missing.mp4'))


def test_save_motion_writes_what_video_motion_saw(model_and_clip, tmp_path):
    model, cfg, root = model_and_clip
    result, titles = video_motion(model, cfg, str(root / 'clip.mp4'))
    assert len(titles) == result.motion.shape[0] - 1
    save_motion(result, str(tmp_path / 'motion.npz'))
    saved = np.load(tmp_path / 'motion.npz')
    np.testing.assert_array_equal(saved['motion'], result.motion.numpy())
    np.testing.assert_array_equal(saved['frames'], result.frames)
    assert int(saved['max_displacement']) == result.max_displacement
    assert str(saved['module']) == result.module == 'backbone.ms_layer2'
