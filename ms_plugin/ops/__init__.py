"""Pure tensor functions (no OpenMMLab imports) behind the plugin's modules."""
from .correlation import (CORRELATION_IMPLS, accumulation_dtype, displacement_grid,
                          l2_normalize, local_correlation, local_correlation_backward,
                          naive_local_correlation)
from .motion import correlation_motion, correlation_soft_argmax
from .pointwise import pointwise_conv
from .relu import relu_add_
from .soft_argmax import (SOFT_ARGMAX_MODES, kernel_soft_argmax, max_and_argmax,
                          soft_argmax_backward)
from .temporal_shift import temporal_shift

__all__ = ['CORRELATION_IMPLS', 'accumulation_dtype', 'displacement_grid', 'l2_normalize',
           'local_correlation', 'local_correlation_backward', 'naive_local_correlation',
           'correlation_motion', 'correlation_soft_argmax', 'pointwise_conv', 'relu_add_',
           'kernel_soft_argmax', 'max_and_argmax', 'soft_argmax_backward', 'SOFT_ARGMAX_MODES',
           'temporal_shift']
