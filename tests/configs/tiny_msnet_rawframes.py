# The tiny MSNet on JPEG frame folders (RawframeDataset, `dir total_frames label`,
# frames 00001.jpg, ...): the Something-Something V1 layout.
_base_ = ['./_base_/tiny_msnet.py']

num_segments = {{_base_.num_segments}}
crop_size = {{_base_.crop_size}}
data_root = '{{$MS_TINY_DATA:data/tiny}}'

dataset_type = 'RawframeDataset'
frame_prefix = data_root + '/rawframes'
filename_tmpl = '{:05}.jpg'
train_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=num_segments),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='RawFrameDecode')]),
    dict(type='Resize', scale=(-1, 40)),
    dict(type='RandomCrop', size=crop_size),
    dict(type='Flip', flip_ratio=0.5),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
val_pipeline = [
    dict(type='SampleFrames', clip_len=1, frame_interval=1, num_clips=num_segments,
         test_mode=True),
    dict(type='UnreadableVideoGuard', transforms=[dict(type='RawFrameDecode')]),
    dict(type='Resize', scale=(-1, 40)),
    dict(type='CenterCrop', crop_size=crop_size),
    dict(type='FormatShape', input_format='NCHW'),
    dict(type='PackActionInputs')
]
test_pipeline = val_pipeline

train_dataloader = dict(
    batch_size=2,
    sampler=dict(type='DefaultSampler', shuffle=True),
    dataset=dict(
        type=dataset_type,
        ann_file=data_root + '/train_rawframes.txt',
        data_prefix=dict(img=frame_prefix),
        filename_tmpl=filename_tmpl,
        pipeline=train_pipeline),
    num_workers=0,
    persistent_workers=False)
val_dataloader = dict(
    batch_size=2,
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(
        type=dataset_type,
        ann_file=data_root + '/val_rawframes.txt',
        data_prefix=dict(img=frame_prefix),
        filename_tmpl=filename_tmpl,
        pipeline=val_pipeline,
        test_mode=True),
    num_workers=0,
    persistent_workers=False)
test_dataloader = val_dataloader
