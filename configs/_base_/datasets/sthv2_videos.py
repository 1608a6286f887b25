# Something-Something V2 as videos (VideoDataset, read with decord), 8
# segments (TSN sampling), the layout MMAction2's tools/data/sthv2 writes:
#   data/sthv2/videos/<video id>.webm
#   data/sthv2/sthv2_{train,val}_list_videos.txt   (`<video id>.webm <label>`)
# Augmentation as for V1 (the reference's): frames resized to 320x240,
# multi-scale crop (scales 1, .875, .75, .66) resized to 224, horizontal flip
# with V2's label swaps. Validation: one clip, centre crop 224. Test (TSM
# convention): two clips (twice_sample) x three 240x240 crops.
# Every path derives from `datasets_root`, the folder that holds sthv2/: `data`
# (beside the launch folder) unless the environment variable MS_DATA_ROOT
# names another, e.g. `MS_DATA_ROOT=/datasets python tools/train.py CONFIG`
# (configs resolve their paths when loaded, so `--cfg-options data_root=...`
# cannot move them).
datasets_root = '{{$MS_DATA_ROOT:data}}'
dataset_type = 'VideoDataset'
data_root = f'{datasets_root}/sthv2/videos'
data_root_val = f'{datasets_root}/sthv2/videos'
ann_file_train = f'{datasets_root}/sthv2/sthv2_train_list_videos.txt'
ann_file_val = f'{datasets_root}/sthv2/sthv2_val_list_videos.txt'
ann_file_test = f'{datasets_root}/sthv2/sthv2_val_list_videos.txt'

num_segments = 8
file_client_args = dict(io_backend='disk')
# "Pushing something from left to right" <-> "... from right to left", etc.
sthv2_flip_label_map = {86: 87, 87: 86, 93: 94, 94: 93, 166: 167, 167: 166}

train_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit', **file_client_args)]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Resize', scale=(320, 240), keep_ratio=False),
    dict(
        type='MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5, flip_label_map=sthv2_flip_label_map),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit', **file_client_args)]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, test_mode=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Resize', scale=(320, 240), keep_ratio=False),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit', **file_client_args)]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, test_mode=True, twice_sample=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Resize', scale=(320, 240), keep_ratio=False),
    dict(type='ThreeCrop', crop_size=240),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]

# 8 GPUs x 6 clips = the reference's batch of 48.
train_dataloader = dict(
    batch_size=6,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=6,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(video=data_root_val),
        pipeline=val_pipeline,
        test_mode=True))
test_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_test,
        data_prefix=dict(video=data_root_val),
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
