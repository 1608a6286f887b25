# The small Video Swin of swin_synthetic.py with a MotionSqueeze module after
# stage 1 (its 96-channel token map before the patch merging, T=4, 8x8 at 64 px;
# [N, 4, 8, 8, 96] in and out), from scratch, on the synthetic motion data.
# Same data and budget as swin_synthetic.py; only the backbone's type and its
# MS settings differ.
_base_ = ['./swin_synthetic.py', '../_base_/models/motion_squeeze.py']

model = dict(
    backbone=dict(
        type='SwinTransformer3D_MS', clip_len={{_base_.clip_len}}, ms_stages=(1, ),
        ms_cfg={{_base_.ms_cfg}}, norm_eval=False))
