"""Pure tensor functions (no OpenMMLab imports) behind the plugin's modules."""
