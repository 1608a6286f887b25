# Something-Something V1 as JPEG frames (RawframeDataset), 8 segments (TSN
# sampling), the layout MMAction2's tools/data/sthv1 writes:
#   data/sthv1/rawframes/<video id>/00001.jpg ...
#   data/sthv1/sthv1_{train,val}_list_rawframes.txt   (`<video id> <frames> <label>`)
# Augmentation as the reference: frames resized to 320x240, multi-scale crop
# (scales 1, .875, .75, .66) resized to 224, horizontal flip that swaps the
# labels whose meaning a flip reverses. Validation: one clip, centre crop 224.
# Test (TSM convention): two clips (twice_sample) x three 240x240 crops.
# Every path derives from `datasets_root`, the folder that holds sthv1/: `data`
# (beside the launch folder) unless the environment variable MS_DATA_ROOT
# names another, e.g. `MS_DATA_ROOT=/datasets python tools/train.py CONFIG`
# (configs resolve their paths when loaded, so `--cfg-options data_root=...`
# cannot move them).
datasets_root = '{{$MS_DATA_ROOT:data}}'
dataset_type = 'RawframeDataset'
data_root = f'{datasets_root}/sthv1/rawframes'
data_root_val = f'{datasets_root}/sthv1/rawframes'
ann_file_train = f'{datasets_root}/sthv1/sthv1_train_list_rawframes.txt'
ann_file_val = f'{datasets_root}/sthv1/sthv1_val_list_rawframes.txt'
ann_file_test = f'{datasets_root}/sthv1/sthv1_val_list_rawframes.txt'

num_segments = 8
# "Pushing something from left to right" <-> "... from right to left", etc.
sthv1_flip_label_map = {2: 4, 4: 2, 30: 41, 41: 30, 52: 66, 66: 52}

train_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='RawFrameDecode')]),
    dict(type='Resize', scale=(320, 240), keep_ratio=False),
    dict(
        type='MultiScaleCrop',
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13),
    dict(type='Resize', scale=(224, 224), keep_ratio=False),
    dict(type='Flip', flip_ratio=0.5, flip_label_map=sthv1_flip_label_map),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, test_mode=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='RawFrameDecode')]),
    dict(type='Resize', scale=(320, 240), keep_ratio=False),
    dict(type='CenterCrop', crop_size=224),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1,
         num_clips=num_segments, test_mode=True, twice_sample=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='RawFrameDecode')]),
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
        data_prefix=dict(img=data_root),
        filename_tmpl='{:05}.jpg',
        pipeline=train_pipeline))
val_dataloader = dict(
    batch_size=6,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=ann_file_val,
        data_prefix=dict(img=data_root_val),
        filename_tmpl='{:05}.jpg',
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
        data_prefix=dict(img=data_root_val),
        filename_tmpl='{:05}.jpg',
        pipeline=test_pipeline,
        test_mode=True))

val_evaluator = dict(type='AccMetric')
test_evaluator = val_evaluator
