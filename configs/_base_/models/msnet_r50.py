# MSNet-R50 (Kwon et al., ECCV 2020): TSM ResNet-50 (1/8 of the channels
# shifted each way in every residual branch) with one MotionSqueeze module
# after res3 (`ms_stages=(1, )`); TSM head, dropout 0.5, 174 classes.
# Those values are MSNet's defaults and live in one place,
# ms_plugin/models/recognizers/msnet.py: this file states the types (which
# the registries and tools read) and what differs from the defaults, the
# ImageNet initialisation. The head's in_channels, num_segments and
# temporal_pool follow the backbone (MSNet fills them in), so a config changes
# the frame count on the backbone only.
model = dict(
    type='MSNet',
    backbone=dict(type='ResNetTSM_MS', pretrained='torchvision://resnet50'),
    cls_head=dict(type='TSMHead'),
    data_preprocessor=dict(type='ActionDataPreprocessor'))
