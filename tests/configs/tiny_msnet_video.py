# The tiny MSNet on mp4 files read with decord (VideoDataset, `video.mp4 label`).
_base_ = ['./_base_/tiny_msnet.py']

num_segments = {{_base_.num_segments}}
crop_size = {{_base_.crop_size}}
data_root = '{{$MS_TINY_DATA:data/tiny}}'

dataset_type = 'VideoDataset'
video_prefix = data_root + '/videos'
train_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit')]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=num_segments),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Resize', scale=(-1, 40)),
    dict(type='RandomCrop', size=crop_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit')]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=num_segments,
         test_mode=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Resize', scale=(-1, 40)),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
# The TSM test convention: two clips (twice_sample) x three square crops along the
# long side of a frame resized to the crop size.
test_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit')]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=num_segments,
         test_mode=True, twice_sample=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Resize', scale=(-1, crop_size)),
    dict(type='ThreeCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]

train_dataloader = dict(
    batch_size=2,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=data_root + '/train_videos.txt',
        data_prefix=dict(video=video_prefix),
        pipeline=train_pipeline),
    num_workers=0,
    persistent_workers=False)
val_dataloader = dict(
    batch_size=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=data_root + '/val_videos.txt',
        data_prefix=dict(video=video_prefix),
        pipeline=val_pipeline,
        test_mode=True),
    num_workers=0,
    persistent_workers=False)
test_dataloader = dict(
    batch_size=1,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=data_root + '/val_videos.txt',
        data_prefix=dict(video=video_prefix),
        pipeline=test_pipeline,
        test_mode=True),
    num_workers=0,
    persistent_workers=False)
