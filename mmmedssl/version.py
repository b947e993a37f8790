# Copyright (c) mmmedssl contributors. All rights reserved.
__version__ = '0.1.0'


def parse_version_info(version_str: str) -> tuple:
    """Parse a version string such as ``'0.1.0'`` or ``'0.2.0rc1'``.

    Returns a tuple of ints, with a trailing ``'rcN'`` string for
    pre-releases: ``(0, 2, 0, 'rc1')``.
    """
    info = []
    for part in version_str.split('.'):
        if part.isdigit():
            info.append(int(part))
        elif 'rc' in part:
            number, rc = part.split('rc', 1)
            info.append(int(number))
            info.append(f'rc{rc}')
        else:
            raise ValueError(f'Cannot parse version part {part!r} of '
                             f'{version_str!r}')
    return tuple(info)


version_info = parse_version_info(__version__)
