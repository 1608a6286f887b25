# HMDB51 as videos (VideoDataset, read with decord), 16 segments (TSN
# sampling), the layout MMAction2's tools/data/hmdb51 writes:
#   data/hmdb51/videos/<class>/<name>.avi
#   data/hmdb51/hmdb51_{train,val}_split_{1,2,3}_videos.txt   (`<class>/<name>.avi <label>`)
# `split` picks the official split (1, 2 or 3; the paper reports the mean of
# the three): split 1 unless the environment variable HMDB51_SPLIT says
# otherwise, e.g. `HMDB51_SPLIT=2 mim train mmaction configs/msnet_r50_hmdb51.py`.
# Augmentation: short side 256, multi-scale crop resized to 224, horizontal
# flip. Validation: one clip, centre crop 224. Test (TSM convention): two
# clips (twice_sample) x three 256x256 crops.
# Every path derives from `datasets_root`, the folder that holds hmdb51/: `data`
# (beside the launch folder) unless the environment variable MS_DATA_ROOT
# names another, e.g. `MS_DATA_ROOT=/datasets python tools/train.py CONFIG`
# (configs resolve their paths when loaded, so `--cfg-options data_root=...`
# cannot move them).
datasets_root = '{{$MS_DATA_ROOT:data}}'
dataset_type = 'VideoDataset'
data_root = f'{datasets_root}/hmdb51/videos'
data_root_val = f'{datasets_root}/hmdb51/videos'
split = {{'$HMDB51_SPLIT:1'}}
ann_file_train = f'{datasets_root}/hmdb51/hmdb51_train_split_{split}_videos.txt'
ann_file_val = f'{datasets_root}/hmdb51/hmdb51_val_split_{split}_videos.txt'
ann_file_test = f'{datasets_root}/hmdb51/hmdb51_val_split_{split}_videos.txt'

num_segments = 16
file_client_args = dict(io_backend='disk')

train_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit', **file_client_args)]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Resize', scale=(-1, 256)),
    dict(
        type='MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit', **file_client_args)]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, test_mode=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit', **file_client_args)]),
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, test_mode=True, twice_sample=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='ThreeCrop', crop_size=256),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]

# 8 GPUs x 6 clips = 48, as for Something-Something.
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
