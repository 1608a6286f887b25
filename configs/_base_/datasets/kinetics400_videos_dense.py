# Kinetics-400 as videos (VideoDataset, read with decord), 16 frames by dense
# sampling as the reference (one frame every 64 // 16 = 4 in a 64-frame
# window), the layout MMAction2's tools/data/kinetics writes:
#   data/kinetics400/videos_{train,val}/<name>.mp4
#   data/kinetics400/kinetics400_{train,val}_list_videos.txt   (`<name>.mp4 <label>`)
# Augmentation: short side 256, multi-scale crop (scales 1, .875, .75, .66)
# resized to 224, horizontal flip. Validation: one window, centre crop 224.
# Test as the reference: 10 windows x three 256x256 crops.
# Every path derives from `datasets_root`, the folder that holds kinetics400/: `data`
# (beside the launch folder) unless the environment variable MS_DATA_ROOT
# names another, e.g. `MS_DATA_ROOT=/datasets python tools/train.py CONFIG`
# (configs resolve their paths when loaded, so `--cfg-options data_root=...`
# cannot move them).
datasets_root = '{{$MS_DATA_ROOT:data}}'
dataset_type = 'VideoDataset'
data_root = f'{datasets_root}/kinetics400/videos_train'
data_root_val = f'{datasets_root}/kinetics400/videos_val'
ann_file_train = f'{datasets_root}/kinetics400/kinetics400_train_list_videos.txt'
ann_file_val = f'{datasets_root}/kinetics400/kinetics400_val_list_videos.txt'
ann_file_test = f'{datasets_root}/kinetics400/kinetics400_val_list_videos.txt'

num_segments = 16
file_client_args = dict(io_backend='disk')

train_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit', **file_client_args)]),
    dict(type='DenseSampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, sample_range=64),
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
    dict(type='DenseSampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, sample_range=64, num_sample_positions=1,
         test_mode=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordInit', **file_client_args)]),
    dict(type='DenseSampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, sample_range=64, num_sample_positions=10,
         test_mode=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='DecordDecode')]),
    dict(type='Resize', scale=(-1, 256)),
    dict(type='ThreeCrop', crop_size=256),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]

# 8 GPUs x 12 clips = the reference's batch of 96.
train_dataloader = dict(
    batch_size=12,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_train,
        data_prefix=dict(video=data_root),
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=12,
    num_workers=8,
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
    num_workers=8,
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
