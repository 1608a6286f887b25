# MSNet-R50, 16 frames, on Something-Something V1 (rawframes): the 8-frame
# config (msnet_r50_sthv1.py) with 16 segments everywhere.
# Paper (Kwon et al., ECCV 2020): 52.1 top-1 (not reproduced here).
_base_ = ['./msnet_r50_sthv1.py']

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)
default_scope = 'mmaction'

num_segments = 16


def _with_segments(pipeline):
    # The same pipeline, sampling `num_segments` frames per clip.
    return [
        dict(step, num_clips=num_segments)
        if step['type'] in ('SampleFrames', 'DenseSampleFrames') else step
        for step in pipeline
    ]


train_pipeline = _with_segments(_base_.train_pipeline)
val_pipeline = _with_segments(_base_.val_pipeline)
test_pipeline = _with_segments(_base_.test_pipeline)

model = dict(
    backbone=dict(num_segments=num_segments), cls_head=dict(num_segments=num_segments))
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
