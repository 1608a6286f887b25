# TSM-R18 (temporal channel shift), from scratch, on the synthetic motion data.
_base_ = ['./tsn_r18_synthetic.py']

model = dict(
    backbone=dict(
        _delete_=True,
        type='ResNetTSM',
        depth=18,
        num_segments={{_base_.num_segments}},
        is_shift=True,
        shift_div=8,
        pretrained=None,
        pretrained2d=False,
        norm_eval=False),
    cls_head=dict(
        type='TSMHead', num_segments={{_base_.num_segments}}, is_shift=True))
