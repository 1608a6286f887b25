# MSNet-R50, 16 frames, on HMDB51 (videos), fine-tuned from the Kinetics-400
# model of msnet_r50_k400.py (`load_from`: every weight but the 400-class fc).
# Split 1; `HMDB51_SPLIT=2` (or 3) in the environment picks another split and
# its own work_dir. The fine-tuning schedule is not given by the reference:
# ours is a short one at a small rate (SGD lr 0.001, x0.1 at epochs 10 and
# 20, 25 epochs, total batch 48), the new fc layer at 5x/10x the rate and
# gradients clipped at 20, as the reference's Kinetics recipe.
# Paper (Kwon et al., ECCV 2020): 77.4 top-1, mean of the three splits,
# Kinetics-pretrained (not reproduced here).
_base_ = [
    '_base_/models/msnet_r50.py', '_base_/datasets/hmdb51_videos.py',
    '_base_/schedules/sgd_nesterov_40e.py', '_base_/default_runtime.py'
]

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)
default_scope = 'mmaction'

# The backbone starts from the Kinetics checkpoint, not from ImageNet.
model = dict(
    backbone=dict(num_segments=16, pretrained=None),
    cls_head=dict(num_classes=51, num_segments=16))
load_from = 'work_dirs/msnet_r50_k400/epoch_75.pth'
work_dir = './work_dirs/msnet_r50_hmdb51_split{{$HMDB51_SPLIT:1}}'

train_cfg = dict(max_epochs=25)
param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=25,
        by_epoch=True,
        milestones=[10, 20],
        gamma=0.1)
]
optim_wrapper = dict(
    paramwise_cfg=dict(fc_lr5=True),
    optimizer=dict(lr=0.001),
    clip_grad=dict(max_norm=20))

default_hooks = dict(checkpoint=dict(interval=5, max_keep_ckpts=3))
