"""ms_plugin.utils.video.write_video: the package's one video writer."""
import numpy as np
import pytest

from ms_plugin.utils.video import write_video


@pytest.mark.parametrize('suffix', ['.mp4', '.avi'])
@pytest.mark.parametrize('channel_order', ['rgb', 'bgr'])
def test_written_video_reads_back_with_its_colours(tmp_path, suffix, channel_order):
    import decord
    frames = np.zeros((4, 32, 64, 3), dtype=np.uint8)
    frames[..., 0] = 220  # red in RGB, blue in BGR
    frames[:, :, :8] = 30  # a dark band, so frames are not uniform
    path = write_video(str(tmp_path / f'clip{suffix}'), frames, channel_order=channel_order)
    video = decord.VideoReader(path)  # decodes to RGB
    assert len(video) == 4
    decoded = video[1].asnumpy()
    assert decoded.shape == (32, 64, 3)
    strong = 0 if channel_order == 'rgb' else 2
    assert decoded[:, 16:, strong].mean() > 180
    assert decoded[:, 16:, 2 - strong].mean() < 60


@pytest.mark.parametrize('name, frames, match', [
    ('clip.mkv', np.zeros((2, 8, 8, 3), np.uint8), 'not'),
    ('clip.mp4', np.zeros((0, 8, 8, 3), np.uint8), 'no frames'),
    ('clip.mp4', [np.zeros((8, 8, 3), np.uint8), np.zeros((8, 6, 3), np.uint8)], 'differ'),
])
def test_bad_requests_are_refused(tmp_path, name, frames, match):
    with pytest.raises(ValueError, match=match):
        write_video(str(tmp_path / name), frames)
    assert not (tmp_path / name).exists()
