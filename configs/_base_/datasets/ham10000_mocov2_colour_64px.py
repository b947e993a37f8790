# HAM10000 with MoCo v2's two views at 64 px, colour kept: brightness,
# contrast and saturation jitter, no hue jitter, no greyscale. On
# dermoscopy the released views throw away the colour cue and lose to
# random init under a linear probe (docs/benchmarks.md, "Recipes that
# follow the data"). Val/test loaders as in ham10000_mocov2_64px.py.
_base_ = ['./ham10000_mocov2_64px.py', './mocov2_views_64px.py']

crop_size = 64

view_pipeline = {{_base_.mocov2_colour_views_64px}}
train_dataloader = dict(
    dataset=dict(pipeline=[
        dict(type='LoadImageFromFile'),
        dict(type='MedMultiView', num_views=2, transforms=[view_pipeline]),
        dict(type='PackMedInputs'),
    ]))
