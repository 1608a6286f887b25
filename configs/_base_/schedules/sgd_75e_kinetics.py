# The reference's Kinetics recipe: SGD lr 0.02 (momentum 0.9, no Nesterov,
# weight decay 1e-4) for a total batch of 96 clips, x0.1 at epochs 30 and 60,
# 75 epochs, gradient norm clipped at 20; the new fc layer at 5x (weight) and
# 10x (bias) the rate (fc_lr5=True). `--auto-scale-lr` rescales the rate for
# other batch sizes.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=75, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=75,
        by_epoch=True,
        milestones=[30, 60],
        gamma=0.1)
]

optim_wrapper = dict(
    constructor='TSMOptimWrapperConstructor',
    paramwise_cfg=dict(fc_lr5=True),
    optimizer=dict(type='SGD', lr=0.02, momentum=0.9, weight_decay=1e-4),
    clip_grad=dict(max_norm=20, norm_type=2))

# base_batch_size = 8 GPUs x 12 clips, the batch of the rate above.
auto_scale_lr = dict(enable=False, base_batch_size=96)
