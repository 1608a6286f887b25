# The half-width R(2+1)D-18 of r2plus1d_r18_synthetic.py with a MotionSqueeze
# module after layer2 (64 channels, T=4 of the 8 frames after layer2's
# temporal stride, 8x8 at 64 px; [N, 64, 4, 8, 8] in and out), from scratch,
# on the synthetic motion data. Same data and budget as
# r2plus1d_r18_synthetic.py; only the backbone's type and its MS settings differ.
_base_ = ['./r2plus1d_r18_synthetic.py', '../_base_/models/motion_squeeze.py']

model = dict(
    backbone=dict(
        type='ResNet2Plus1d_MS', clip_len={{_base_.clip_len}}, ms_stages=(1, ),
        ms_cfg={{_base_.ms_cfg}}))
