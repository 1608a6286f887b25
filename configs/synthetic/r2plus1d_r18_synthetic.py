# R(2+1)D-18 at half width (MMAction2's ResNet2Plus1d with the settings of its
# R34 config: (2+1)D convolutions, no pool2 in its forward; here depth 18,
# base_channels=32, BN3d, temporal strides (1, 2, 2, 1) and
# zero_init_residual=True), from scratch, 8 consecutive frames, on the
# synthetic motion data: the baseline of msnet_r2plus1d_r18_synthetic.py.
# T = 8, 4, 2, 2 after layer1..4: with a stride in layer4 too, a 32 px test
# clip leaves layer4 one value per channel (T=1, 1x1), which BatchNorm refuses
# in training. Residual blocks start as identities (ResNet3d's default, as in
# the SlowOnly pair): with MMAction2's zero_init_residual=False the loss rose
# from 2.4 to 3.2 in the first epoch here and neither model of the pair left
# chance in 5 epochs. The 3D pipelines and the head are
# slowonly_r18_synthetic.py's; the backbone is replaced and the head takes its
# 256 channels.
_base_ = ['./slowonly_r18_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNet2Plus1d',
        depth=18,
        base_channels=32,
        pretrained=None,
        pretrained2d=False,
        norm_eval=False,
        conv_cfg=dict(type='Conv2plus1d'),
        norm_cfg=dict(type='BN3d', requires_grad=True, eps=1e-3),
        conv1_kernel=(3, 7, 7),
        conv1_stride_t=1,
        pool1_stride_t=1,
        inflate=(1, 1, 1, 1),
        spatial_strides=(1, 2, 2, 2),
        temporal_strides=(1, 2, 2, 1),
        zero_init_residual=True),
    cls_head=dict(in_channels=256))
