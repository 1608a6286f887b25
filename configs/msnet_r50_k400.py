# MSNet-R50, 16 frames (dense sampling), on Kinetics-400 (videos), the
# reference's Kinetics recipe: ImageNet-pretrained TSM ResNet-50 with one MS
# module after res3, 75 epochs of SGD on 8 GPUs x 12 clips.
# Paper (Kwon et al., ECCV 2020): 76.4 top-1 (not reproduced here).
_base_ = [
    '_base_/models/msnet_r50.py', '_base_/datasets/kinetics400_videos_dense.py',
    '_base_/schedules/sgd_75e_kinetics.py', '_base_/default_runtime.py'
]

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)
default_scope = 'mmaction'

model = dict(
    backbone=dict(num_segments=16),
    cls_head=dict(num_classes=400, num_segments=16))

default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3))
