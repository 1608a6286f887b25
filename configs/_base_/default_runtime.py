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
# - LabelCheckHook: before a loop starts, every label of its annotation file and
#   every Flip step's flip_label_map are checked against
#   model.cls_head.num_classes; one that does not fit stops the run with one
#   line naming the label, the file and line, and what to set (instead of
#   `IndexError: Target N is out of bounds` at a random iteration).
_base_ = ['mmaction::_base_/default_runtime.py']

custom_imports = dict(imports=['ms_plugin'], allow_failed_imports=False)

custom_hooks = [
    dict(type='RNGStateHook'),
    dict(type='UnreadableVideoHook', train_on_error='skip', val_on_error='raise',
         test_on_error='raise'),
    dict(type='LabelCheckHook'),
]
