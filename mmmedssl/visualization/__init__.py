# Copyright (c) mmmedssl contributors. All rights reserved.
# mmpretrain's UniversalVisualizer and vis backends resolve through the
# registry parent; mmmedssl's pictures (PNG writers shared by the
# tools/visualization/ command lines and hooks) go here.
__all__ = []
# -- training views and PCRL panels (views.py, pcrl_panels.py) --
from .pcrl_panels import (denormalize, pcrl_recon_panel,  # noqa: E402
                          render_pcrl_panel)
from .views import (build_train_dataset, render_grid,  # noqa: E402
                    render_training_views, save_png, to_display)

__all__ += [
    'build_train_dataset', 'denormalize', 'pcrl_recon_panel',
    'render_grid', 'render_pcrl_panel', 'render_training_views', 'save_png',
    'to_display'
]
# -- t-SNE and training curves (tsne.py, curves.py) --
# (matplotlib and scikit-learn are imported only when a picture is drawn)
from .curves import RunLog, load_run, plot_curves, summary  # noqa: E402
from .tsne import (FeatureSet, embed_tsne, load_features,  # noqa: E402
                   plot_tsne)

__all__ += [
    'RunLog', 'load_run', 'plot_curves', 'summary', 'FeatureSet',
    'embed_tsne', 'load_features', 'plot_tsne'
]
