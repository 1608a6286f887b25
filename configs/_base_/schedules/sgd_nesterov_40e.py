# The reference's Something-Something recipe: SGD lr 0.01 (Nesterov, momentum
# 0.9, weight decay 5e-4) for a total batch of 48 clips, x0.1 at epochs 20 and
# 30, 40 epochs, gradient norm clipped at 200. As in the reference, biases get
# 2x the rate and no decay, BatchNorms no decay, and the new fc layer the base
# rate (fc_lr5=False). `--auto-scale-lr` rescales the rate for other batch sizes.
train_cfg = dict(
    type='EpochBasedTrainLoop', max_epochs=40, val_begin=1, val_interval=1)
val_cfg = dict(type='ValLoop')
test_cfg = dict(type='TestLoop')

param_scheduler = [
    dict(
        type='MultiStepLR',
        begin=0,
        end=40,
        by_epoch=True,
        milestones=[20, 30],
        gamma=0.1)
]

optim_wrapper = dict(
    constructor='TSMOptimWrapperConstructor',
    paramwise_cfg=dict(fc_lr5=False),
    optimizer=dict(
        type='SGD', lr=0.01, momentum=0.9, nesterov=True, weight_decay=5e-4),
    clip_grad=dict(max_norm=200, norm_type=2))

# base_batch_size = 8 GPUs x 6 clips, the batch of the rate above.
auto_scale_lr = dict(enable=False, base_batch_size=48)
