# Copyright (c) mmmedssl contributors. All rights reserved.
"""Install mmmedssl: ``pip install -e .`` (development) or ``pip install .``.

setuptools must be >=77.0.3,<80 (see requirements/build.txt): 80 and newer
turn ``pip install -e .`` into a PEP 660 editable wheel, which breaks
mmengine's ``get_installed_path`` and therefore mim and ``mmmedssl::``
config references.
"""
import os
import os.path as osp
import shutil
import sys
import warnings

from setuptools import find_packages, setup

HERE = osp.dirname(osp.abspath(__file__))


def readme() -> str:
    with open(osp.join(HERE, 'README.md'), encoding='utf-8') as f:
        return f.read()


def get_version() -> str:
    scope = {}
    with open(osp.join(HERE, 'mmmedssl', 'version.py')) as f:
        exec(compile(f.read(), 'version.py', 'exec'), scope)
    return scope['__version__']


def parse_requirements(fname: str) -> list:
    """Requirement lines of a file in requirements/, comments dropped."""
    requires = []
    with open(osp.join(HERE, 'requirements', fname)) as f:
        for line in f:
            line = line.split('#', 1)[0].strip()
            if line and not line.startswith('-'):
                requires.append(line)
    return requires


def add_mim_extension() -> None:
    """Put configs, tools and model-index.yml into ``mmmedssl/.mim`` so that
    mim (``mim train mmmedssl CONFIG``) and ``mmmedssl::`` config references
    find them in an installed package. Editable installs get symlinks,
    wheels and sdists get copies."""
    if 'develop' in sys.argv or 'editable_wheel' in sys.argv:
        mode = 'symlink'
    elif {'sdist', 'bdist_wheel', 'install', 'build'} & set(sys.argv):
        mode = 'copy'
    else:
        return
    mim_path = osp.join(HERE, 'mmmedssl', '.mim')
    os.makedirs(mim_path, exist_ok=True)
    for name in ('configs', 'tools', 'model-index.yml'):
        src = osp.join(HERE, name)
        tar = osp.join(mim_path, name)
        if not osp.exists(src):
            continue
        if osp.islink(tar) or osp.isfile(tar):
            os.remove(tar)
        elif osp.isdir(tar):
            shutil.rmtree(tar)
        if mode == 'symlink':
            try:
                os.symlink(osp.relpath(src, mim_path), tar)
                continue
            except OSError:
                warnings.warn(f'Cannot link {src} to {tar}; copying.')
        if osp.isdir(src):
            shutil.copytree(src, tar)
        else:
            shutil.copyfile(src, tar)


if __name__ == '__main__':
    add_mim_extension()
    setup(
        name='mmmedssl',
        version=get_version(),
        description='Self-supervised learning for medical images, '
        'OpenMMLab style',
        long_description=readme(),
        long_description_content_type='text/markdown',
        keywords='self-supervised learning, medical imaging, openmmlab',
        packages=find_packages(exclude=('configs', 'tools', 'tests', 'docs')),
        include_package_data=True,
        package_data={'mmmedssl': ['.mim/**/*']},
        python_requires='>=3.9',
        classifiers=[
            'Programming Language :: Python :: 3',
            'Programming Language :: Python :: 3.11',
            'Topic :: Scientific/Engineering :: Medical Science Apps.',
        ],
        license='Apache License 2.0',
        install_requires=parse_requirements('runtime.txt'),
        extras_require={
            'tests': parse_requirements('tests.txt'),
            'mim': parse_requirements('mminstall.txt'),
        },
        zip_safe=False)
