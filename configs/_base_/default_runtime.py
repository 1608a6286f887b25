# The runtime of this plugin's configs: MMAction2's default runtime, the plugin
# imported, and the hooks that let training survive faults
# (docs/fault_tolerance.md):
# - RNGStateHook saves the random states with every checkpoint, so that a run
#   resumed after a kill ends with the same weights as one never stopped;
# - UnreadableVideoHook: an unreadable training video is skipped (logged and
#   counted every epoch), one in validation or testing stops the run with its
#   name. `--cfg-options custom_hooks.1.train_on_error=raise` stops training
#   instead; `custom_hooks.1.val_on_error=leave_out` (or test_on_error) leaves
#   unreadable videos out and reports `left_out_videos` next to the metric.
_base_ = ['mmaction::_base_/default_runtime.py']

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)

custom_hooks = [
    dict(type='RNGStateHook'),
    dict(type='UnreadableVideoHook', train_on_error='skip', val_on_error='raise',
         test_on_error='raise'),
]
