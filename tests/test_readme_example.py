"""The README's plain-PyTorch example runs as written; the timm section of docs/design.md holds."""
import re
from pathlib import Path

import torch

README = Path(__file__).resolve().parents[1] / 'README.md'
DESIGN = README.parent / 'docs' / 'design.md'
START, END = '<!-- example: ms-in-torchvision -->', '<!-- /example -->'


def readme_example() -> str:
    """The python code block between the example markers of README.md."""
    text = README.read_text()
    assert text.count(START) == 1 and text.count(END) == 1, 'example markers missing'
    block = text[text.index(START) + len(START):text.index(END)]
    match = re.fullmatch(r'\s*```python\n(.*)```\s*', block, flags=re.S)
    assert match, 'the example markers must enclose one ```python block'
    return match.group(1)


def timm_section() -> str:
    text = DESIGN.read_text()
    start = text.index('<!-- section: timm -->')
    heading = text.index('\n## ', start)
    return text[start:text.index('\n## ', heading + 1)]


def test_ms_in_torchvision_example_runs():
    from ms_plugin.models import MotionSqueeze
    torch.manual_seed(0)
    namespace = {'__name__': 'readme_example'}
    exec(compile(readme_example(), str(README), 'exec'), namespace)

    net, logits, motion = namespace['net'], namespace['logits'], namespace['motion']
    frames, clips = namespace['frames'], namespace['clips']
    ms = net.layer2[1]
    assert isinstance(ms, MotionSqueeze)
    assert ms.motion_sink is None  # nothing kept after the capture
    assert logits.shape == (clips.shape[0], 10)
    # MS learns: its parameters got gradients from the classification loss.
    assert all(p.grad is not None for p in ms.parameters())
    assert any(p.grad.abs().sum() > 0 for p in ms.parameters())
    # The motion map of every frame, on layer2's grid (stride 8).
    side = frames.shape[-1] // 8
    assert motion.shape == (frames.shape[0], 3, side, side)
    assert motion[:, :2].abs().max() <= 1 and 0 <= motion[:, 2].min() <= motion[:, 2].max() <= 1
    # The MS output differs from layer2's: motion features were added.
    with torch.no_grad():
        x = net.maxpool(net.relu(net.bn1(net.conv1(frames))))
        x = net.layer2[0](net.layer1(x))
        assert not torch.allclose(ms(x), x)


def test_timm_section_names_existing_configs():
    configs = re.findall(r'configs/[\w./-]+\.py', timm_section())
    assert 'configs/msnet_timm-mobilenetv3_sthv2.py' in configs
    root = README.parent
    assert all((root / path).is_file() for path in configs), configs


def test_timm_section_table_matches_timm():
    import timm
    rows = re.findall(r'^\| `(\w+)` \| `\((\d+),\)` \(`([\w.]+)`, (\d+)\) \| (\d+) \|$',
                      timm_section(), flags=re.M)
    assert len(rows) == 5
    for name, stage, module, channels, feat_dim in rows:
        info = timm.create_model(name, pretrained=False).feature_info
        reductions = [f['reduction'] for f in info]
        assert reductions.index(8) == int(stage), name
        assert (info[int(stage)]['module'], info[int(stage)]['num_chs']) == (module, int(channels))
        assert info[-1]['num_chs'] == int(feat_dim), name
