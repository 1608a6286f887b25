# A small Video Swin (MMAction2's SwinTransformer3D: Swin-T's layout of 4 stages
# at 1/4..1/32 of the input, narrower: 48 channels, depths 2-2-6-2), from
# scratch, 8 consecutive frames, on the synthetic motion data: the baseline of
# msnet_swin_synthetic.py. The 3D pipelines and the head are
# slowonly_r18_synthetic.py's; the backbone is replaced, the head takes its 384
# channels, and the optimizer is AdamW, as MMAction2's Swin configs have it.
# Patch (2, 4, 4) on 8 frames of 64x64: T=4 at every stage; 16x16, 8x8, 4x4,
# 2x2 token maps.
_base_ = ['./slowonly_r18_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='SwinTransformer3D',
        arch=dict(embed_dims=48, depths=[2, 2, 6, 2], num_heads=[3, 6, 12, 24]),
        pretrained=None,
        pretrained2d=False,
        patch_size=(2, 4, 4),
        window_size=(4, 4, 4),
        mlp_ratio=4.,
        qkv_bias=True,
        qk_scale=None,
        drop_rate=0.,
        attn_drop_rate=0.,
        drop_path_rate=0.1,
        patch_norm=True),
    cls_head=dict(in_channels=384))

optim_wrapper = dict(
    optimizer=dict(_delete_=True, type='AdamW', lr=1e-3, betas=(0.9, 0.999), weight_decay=0.05),
    constructor='SwinOptimWrapperConstructor',
    paramwise_cfg=dict(
        absolute_pos_embed=dict(decay_mult=0.),
        relative_position_bias_table=dict(decay_mult=0.),
        norm=dict(decay_mult=0.)))
