# Copyright (c) mmmedssl contributors. All rights reserved.
import datetime
import warnings

from mmengine import DefaultScope


def register_all_modules(init_default_scope: bool = True) -> None:
    """Import every mmmedssl module that registers something.

    Args:
        init_default_scope (bool): Also make ``'mmmedssl'`` the default
            scope, so that ``MODELS.build(dict(type='ResNet', ...))`` finds
            mmmedssl and mmpretrain modules. If another scope is current, a
            new ``DefaultScope`` instance with a unique name is created.
            Defaults to True.
    """
    import mmmedssl.datasets  # noqa: F401
    import mmmedssl.engine  # noqa: F401
    import mmmedssl.evaluation  # noqa: F401
    import mmmedssl.models  # noqa: F401
    import mmmedssl.visualization  # noqa: F401

    if not init_default_scope:
        return
    current = DefaultScope.get_current_instance()
    if current is None or not DefaultScope.check_instance_created('mmmedssl'):
        DefaultScope.get_instance('mmmedssl', scope_name='mmmedssl')
    elif current.scope_name != 'mmmedssl':
        warnings.warn(f'The current default scope "{current.scope_name}" is '
                      'not "mmmedssl"; register_all_modules makes a new '
                      'default scope instance named "mmmedssl-<time>".')
        stamp = datetime.datetime.now().strftime('%Y%m%d-%H%M%S-%f')
        DefaultScope.get_instance(f'mmmedssl-{stamp}', scope_name='mmmedssl')
