# MSNet-R50, 8 frames, on Something-Something V2 (videos), the paper's recipe:
# ImageNet-pretrained TSM ResNet-50 with one MS module after res3, 40 epochs
# of SGD on 8 GPUs x 6 clips.
# Paper (Kwon et al., ECCV 2020): 63.0 top-1, 88.4 top-5 (not reproduced here).
_base_ = [
    '_base_/models/msnet_r50.py', '_base_/datasets/sthv2_videos.py',
    '_base_/schedules/sgd_nesterov_40e.py', '_base_/default_runtime.py'
]

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)
default_scope = 'mmaction'

model = dict(cls_head=dict(num_classes=174))

default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=3))
