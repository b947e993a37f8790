# Copyright (c) mmmedssl contributors. All rights reserved.
"""Write synthetic surgical videos in the Cholec80 layout.

    python tools/dataset_converters/make_demo_surgical_videos.py \\
        [--out data/demo_surgical]

A stand-in for Cholec80 to run the surgical-video pipeline (frame
extraction, ``SurgicalVideoFrames``, pretraining, phase recognition) without
the real data; deterministic for a given ``--seed``. Each video runs through
the 7 Cholec80 phases in order, each lasting at least a second, with random
durations around the typical shares of a cholecystectomy (long Calot
triangle and gallbladder dissections, short preparation and packaging).

What a frame shows depends on the phase, with overlap, as in real videos:
each phase weights a set of scene elements (yellow fat blobs, whitish
fibres at some angle, a duct with metal clips, the green gallbladder, the
white specimen bag, blood, smoke, the dark liver bed), and the tools in view
follow phase-dependent probabilities (hook during dissection, clipper and
scissors when clipping, irrigator and bipolar when cleaning, specimen bag at
the end). The nuisances: each video has its own tissue tint, brightness,
noise level and endoscope circle; the camera drifts over a tissue texture;
element strengths vary per video and phase, and elements of other phases
appear faintly; phases cross-fade over half a second; tools move.

Output (``--out``)::

    videos/video01.avi ...                MJPG, --size x --size, --fps
    phase_annotations/video01-phase.txt   Frame<TAB>Phase, every frame
    tool_annotations/video01-tool.txt     Frame<TAB>Grasper..., every second
    README.txt
"""
import argparse
import os
import os.path as osp
from typing import List, Sequence, Tuple

import cv2
import numpy as np

PHASES = ('Preparation', 'CalotTriangleDissection', 'ClippingCutting',
          'GallbladderDissection', 'GallbladderPackaging',
          'CleaningCoagulation', 'GallbladderRetraction')
TOOLS = ('Grasper', 'Bipolar', 'Hook', 'Scissors', 'Clipper', 'Irrigator',
         'SpecimenBag')
# Typical shares of the phases in a cholecystectomy.
PHASE_SHARES = np.array([0.06, 0.34, 0.09, 0.28, 0.06, 0.10, 0.07])
# P(tool in view) per phase (rows) and tool (columns, TOOLS order).
TOOL_PROBS = np.array([
    [0.85, 0.05, 0.30, 0.00, 0.00, 0.05, 0.00],  # Preparation
    [0.90, 0.10, 0.90, 0.03, 0.02, 0.05, 0.00],  # CalotTriangleDissection
    [0.80, 0.03, 0.05, 0.55, 0.80, 0.05, 0.00],  # ClippingCutting
    [0.90, 0.15, 0.85, 0.03, 0.00, 0.10, 0.00],  # GallbladderDissection
    [0.80, 0.02, 0.05, 0.00, 0.00, 0.05, 0.90],  # GallbladderPackaging
    [0.60, 0.60, 0.05, 0.00, 0.00, 0.70, 0.10],  # CleaningCoagulation
    [0.90, 0.05, 0.00, 0.00, 0.00, 0.10, 0.60],  # GallbladderRetraction
])
ELEMENTS = ('fat', 'fibres', 'duct', 'gallbladder', 'bag', 'blood', 'smoke',
            'liver_bed')
# Mean strength of each scene element (columns) per phase (rows).
ELEMENT_WEIGHTS = np.array([
    [1.0, 0.1, 0.0, 0.4, 0.0, 0.0, 0.0, 0.0],  # Preparation
    [0.4, 1.0, 0.0, 0.3, 0.0, 0.0, 0.0, 0.0],  # CalotTriangleDissection
    [0.0, 0.3, 1.0, 0.3, 0.0, 0.0, 0.0, 0.0],  # ClippingCutting
    [0.0, 0.3, 0.0, 1.0, 0.0, 0.0, 0.3, 0.6],  # GallbladderDissection
    [0.0, 0.0, 0.0, 0.0, 1.0, 0.0, 0.0, 0.5],  # GallbladderPackaging
    [0.0, 0.0, 0.0, 0.0, 0.0, 1.0, 0.6, 0.6],  # CleaningCoagulation
    [0.0, 0.0, 0.0, 0.2, 0.5, 0.0, 0.0, 0.3],  # GallbladderRetraction
])
# Element colours (BGR).
COLOURS = dict(
    fat=(70, 185, 215), fibres=(205, 215, 235), duct=(150, 175, 205),
    clip=(215, 215, 220), gallbladder=(70, 140, 105), bag=(228, 228, 218),
    blood=(25, 20, 105), smoke=(205, 205, 205), liver_bed=(45, 55, 115))
_COLOURS = {k: np.float32(v) for k, v in COLOURS.items()}
# Side (angle, radians) each tool enters the view from.
TOOL_ANGLES = (-0.6, 3.5, 2.6, -1.2, 0.4, 4.2, 1.4)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split('\n')[0])
    parser.add_argument('--out', default='data/demo_surgical',
                        help='output folder (default: data/demo_surgical)')
    parser.add_argument('--num-videos', type=int, default=8,
                        help='number of videos (default: 8)')
    parser.add_argument('--size', type=int, default=64,
                        help='frame side in pixels (default: 64)')
    parser.add_argument('--seconds', type=float, nargs=2, default=(16, 24),
                        metavar=('MIN', 'MAX'),
                        help='range of video durations (default: 16 24)')
    parser.add_argument('--fps', type=int, default=25,
                        help='frame rate (default: 25, as Cholec80)')
    parser.add_argument('--seed', type=int, default=0)
    return parser.parse_args(argv)


def phase_durations(rng: np.random.Generator, num_frames: int,
                    fps: int) -> np.ndarray:
    """Frames per phase: at least ``fps`` each, the rest shared around
    ``PHASE_SHARES``."""
    spare = num_frames - len(PHASES) * fps
    shares = rng.dirichlet(PHASE_SHARES * 30)
    durations = fps + np.floor(shares * spare).astype(np.int64)
    durations[np.argmax(shares)] += num_frames - durations.sum()
    return durations


def tool_rows(rng: np.random.Generator, row_phases: np.ndarray) -> np.ndarray:
    """0/1 tool presence per second: redrawn from ``TOOL_PROBS`` when the
    phase changes, else kept with probability 0.7 (tools stay a while)."""
    rows = np.zeros((len(row_phases), len(TOOLS)), np.uint8)
    for s, phase in enumerate(row_phases):
        fresh = rng.random(len(TOOLS)) < TOOL_PROBS[phase]
        if s and row_phases[s - 1] == phase:
            keep = rng.random(len(TOOLS)) < 0.7
            fresh = np.where(keep, rows[s - 1], fresh)
        rows[s] = fresh
    return rows


def _smooth_noise(rng: np.random.Generator, shape: Tuple[int, int],
                  cells: int) -> np.ndarray:
    """Smooth noise in about [-1, 1]: a coarse grid upsampled."""
    coarse = rng.normal(0, 1, (cells, cells)).astype(np.float32)
    field = cv2.resize(coarse, shape[::-1], interpolation=cv2.INTER_CUBIC)
    return np.clip(field / 1.5, -1, 1)


class _Video:
    """What stays fixed over one video; renders its frames.

    The scene (tissue texture and the alpha map of each element) is drawn
    once on a canvas twice the frame's side; a frame is a window of it that
    drifts with the camera, which keeps the rendering cheap."""

    def __init__(self, rng: np.random.Generator, size: int, fps: int):
        self.rng, self.size, self.fps = rng, size, fps
        s = size
        self.tissue = (np.array([85, 95, 175], np.float32) *
                       rng.uniform(0.85, 1.15, 3) *
                       rng.uniform(0.75, 1.15)).astype(np.float32)
        self.texture = _smooth_noise(rng, (2 * s, 2 * s), 10)[..., None]
        # Sensor noise, drawn from a bank (cheaper than per frame).
        self.noise = rng.standard_normal(
            (16, s, s, 3), dtype=np.float32) * np.float32(rng.uniform(3, 8))
        yy, xx = np.mgrid[0:s, 0:s].astype(np.float32)
        centre = s / 2 + rng.uniform(-0.04, 0.04, 2) * s
        radius = rng.uniform(0.5, 0.58) * s
        dist = np.hypot(xx - centre[0], yy - centre[1])
        # Black outside the endoscope's circle, darker towards its edge.
        self.mask = np.clip(radius - dist, 0, 1)[..., None]
        self.shade = (self.mask * (1 - 0.45 * (dist / radius)**2)[..., None]
                      ).astype(np.float32)
        self.noise *= self.mask  # the margin stays black
        self.centre = centre
        # Camera drift: amplitude (fraction of the side), periods, phases.
        self.drift = (rng.uniform(0.05, 0.12, 2), rng.uniform(5, 12, 2),
                      rng.uniform(0, 2 * np.pi, 2))
        self.alphas = self._element_maps(rng)
        self.colours = {
            name: np.full((s, s, 3), COLOURS[name], np.float32)
            for name in self.alphas
        }
        # Tools: entry angle and tip motion.
        self.tool_angle = np.array(TOOL_ANGLES) + rng.uniform(-0.3, 0.3, 7)
        self.tool_phase = rng.uniform(0, 2 * np.pi, 7)

    def _element_maps(self, rng: np.random.Generator) -> dict:
        """The alpha map of each element on the canvas, in [0, 1]; the
        coordinates are in frame sides, 0 at the canvas centre."""
        s = self.size
        yy, xx = np.mgrid[0:2 * s, 0:2 * s].astype(np.float32)
        u, v = xx / s - 1, yy / s - 1
        maps = {}
        maps['fat'] = sum(
            np.exp(-((u - cx)**2 + (v - cy)**2) / r**2)
            for cx, cy, r in zip(*rng.uniform(-0.35, 0.35, (2, 4)),
                                 rng.uniform(0.06, 0.12, 4)))
        angle, period = rng.uniform(0.3, 1.2), rng.uniform(0.12, 0.2)
        wave = np.sin(2 * np.pi * (u * np.cos(angle) + v * np.sin(angle)) /
                      period)
        maps['fibres'] = np.clip(wave, 0, 1)**2 * 0.8
        offset, slope = rng.uniform(-0.2, 0.2), rng.uniform(-0.5, 0.5)
        dist = np.abs(v - offset - slope * u) / np.hypot(1, slope)
        maps['duct'] = 1 - dist / 0.09
        # Clips: bright bands across the duct.
        maps['clip'] = ((np.abs(u[..., None] - (-0.12, 0., 0.12)) < 0.025)
                        .any(-1) & (dist < 0.11)).astype(np.float32)
        (cx, cy), a, b, angle = (rng.uniform(-0.15, 0.15, 2),
                                 rng.uniform(0.22, 0.32),
                                 rng.uniform(0.12, 0.18),
                                 rng.uniform(0, np.pi))
        c, sn = np.cos(angle), np.sin(angle)
        du, dv = u - cx, v - cy
        rho = ((du * c + dv * sn) / a)**2 + ((dv * c - du * sn) / b)**2
        maps['gallbladder'] = (1.2 - rho) * 3
        cx, cy = rng.uniform(-0.1, 0.1, 2)
        rho = np.maximum(np.abs(u - cx) / 0.3, np.abs(v - cy) / 0.2)
        crinkle = _smooth_noise(rng, (2 * s, 2 * s), s // 2)
        maps['bag'] = np.clip((1 - rho) * 4, 0, 1) * (0.75 + 0.25 * crinkle)
        maps['blood'] = 1.5 * sum(
            np.exp(-((u - cx)**2 + (v - cy)**2) / 0.015)
            for cx, cy in rng.uniform(-0.3, 0.3, (4, 2)))
        maps['smoke'] = np.full_like(u, 0.55)
        angle = rng.uniform(0, 2 * np.pi)
        maps['liver_bed'] = (u * np.cos(angle) + v * np.sin(angle) - 0.1) * 6
        return {k: np.clip(m, 0, 1).astype(np.float32)
                for k, m in maps.items()}

    def strengths(self, phases: np.ndarray) -> np.ndarray:
        """Element strengths per frame, cross-faded at phase changes."""
        rng = self.rng
        per_phase = ELEMENT_WEIGHTS * rng.uniform(0.6, 1.2,
                                                  ELEMENT_WEIGHTS.shape)
        # Faint elements of other phases.
        faint = rng.uniform(0, 0.2, ELEMENT_WEIGHTS.shape)
        per_phase = np.clip(np.maximum(per_phase, faint), 0, 1)
        frames = per_phase[phases]
        blend = max(1, self.fps // 2)
        starts = np.flatnonzero(np.diff(phases)) + 1
        for start in starts:
            end = min(start + blend, len(phases))
            a = (np.arange(start, end) - start + 1)[:, None] / (blend + 1)
            frames[start:end] = ((1 - a) * per_phase[phases[start - 1]] +
                                 a * per_phase[phases[start]])
        return frames.astype(np.float32)

    def _draw_tools(self, img: np.ndarray, t: float,
                    present: np.ndarray) -> None:
        s = self.size
        thick = max(1, s // 20)
        for k in np.flatnonzero(present):
            angle = self.tool_angle[k] + 0.15 * np.sin(0.7 * t +
                                                       self.tool_phase[k])
            reach = (0.15 + 0.1 * np.sin(0.9 * t + self.tool_phase[k])) * s
            d = np.array([np.cos(angle), np.sin(angle)])
            n = np.array([-d[1], d[0]])
            entry = self.centre + d * s
            tip = self.centre + d * reach

            def pt(p):
                return tuple(int(round(c)) for c in p)

            name = TOOLS[k]
            if name == 'SpecimenBag':
                poly = np.array([tip + 0.12 * s * (n + d), tip + 0.12 * s *
                                 (d - n), tip - 0.1 * s * d]).astype(np.int32)
                cv2.fillPoly(img, [poly], (225, 230, 230), cv2.LINE_AA)
                cv2.line(img, pt(tip), pt(entry), (30, 30, 30), 1,
                         cv2.LINE_AA)
                continue
            metal = (150, 150, 155) if name != 'Irrigator' else (190, 195,
                                                                  200)
            width = thick * (2 if name in ('Irrigator', 'Clipper') else 1)
            cv2.line(img, pt(entry), pt(tip), metal, width, cv2.LINE_AA)
            jaw = 0.1 * s
            if name == 'Grasper':
                opening = 0.3 + 0.25 * np.sin(2 * t)
                for sign in (1, -1):
                    end = tip - jaw * (d - sign * opening * n)
                    cv2.line(img, pt(tip), pt(end), (90, 90, 90), thick,
                             cv2.LINE_AA)
            elif name == 'Bipolar':
                for sign in (1, -1):
                    start = tip + sign * 0.03 * s * n
                    cv2.line(img, pt(start), pt(start - jaw * d),
                             (170, 90, 40), thick, cv2.LINE_AA)
            elif name == 'Hook':
                end = tip - jaw * d
                cv2.line(img, pt(tip), pt(end), (200, 200, 200), 1,
                         cv2.LINE_AA)
                cv2.line(img, pt(end), pt(end + 0.6 * jaw * n),
                         (200, 200, 200), 1, cv2.LINE_AA)
            elif name == 'Scissors':
                for sign in (1, -1):
                    end = tip - 1.2 * jaw * (d - sign * 0.6 * n)
                    cv2.line(img, pt(tip), pt(end), (120, 120, 125), 1,
                             cv2.LINE_AA)
            elif name == 'Clipper':
                box = np.array([tip + 0.04 * s * n, tip - 0.04 * s * n,
                                tip - 0.04 * s * n - jaw * d,
                                tip + 0.04 * s * n - jaw * d]).astype(
                                    np.int32)
                cv2.fillPoly(img, [box], (110, 110, 115), cv2.LINE_AA)
            elif name == 'Irrigator':
                cv2.circle(img, pt(tip), max(1, thick), (80, 80, 80), -1,
                           cv2.LINE_AA)

    def render(self, t: float, strength: np.ndarray,
               present: np.ndarray) -> np.ndarray:
        s = self.size
        ox, oy = (s / 2 + self.drift[0] * s * np.sin(
            2 * np.pi * t / self.drift[1] + self.drift[2])).astype(int)
        window = np.s_[oy:oy + s, ox:ox + s]
        img = self.tissue * (1 + 0.25 * self.texture[window])
        for name, alpha in self.alphas.items():
            # The clips come and go with the duct they are on.
            w = strength[ELEMENTS.index('duct' if name == 'clip' else name)]
            if w < 0.02:
                continue
            alpha = alpha[window] * w
            img = cv2.blendLinear(img, self.colours[name], 1 - alpha, alpha)
        img = np.clip(img, 0, 255).astype(np.uint8)
        self._draw_tools(img, t, present)
        img = img * self.shade + self.noise[self.rng.integers(16)]
        return np.clip(img, 0, 255).astype(np.uint8)


def _check_video(path: str, num_frames: int, size: int) -> None:
    capture = cv2.VideoCapture(path)
    count = 0
    try:
        ok = capture.isOpened()
        while ok:
            ok = capture.grab()
            count += ok
        shape = (capture.get(cv2.CAP_PROP_FRAME_WIDTH),
                 capture.get(cv2.CAP_PROP_FRAME_HEIGHT))
    finally:
        capture.release()
    if count != num_frames or shape != (size, size):
        raise RuntimeError(
            f'{path}: OpenCV wrote {num_frames} frames of {size}x{size} but '
            f'reads back {count} of {shape[0]:g}x{shape[1]:g}; this OpenCV '
            'build cannot round-trip MJPG AVI files.')


def make_demo_surgical_videos(out: str,
                              num_videos: int = 8,
                              size: int = 64,
                              seconds: Sequence[float] = (16, 24),
                              fps: int = 25,
                              seed: int = 0) -> List[str]:
    """Write ``num_videos`` synthetic videos with their annotations into
    ``out`` (Cholec80 layout, see the module docstring).

    Args:
        out (str): The output folder.
        num_videos (int): Videos ``video01`` ... Defaults to 8.
        size (int): Frame side in pixels. Defaults to 64.
        seconds (tuple[float, float]): Range of the durations, each at
            least 7 s (one second per phase). Defaults to ``(16, 24)``.
        fps (int): Frame rate; the tool rows come once per second, every
            ``fps`` frames (25: as Cholec80). Defaults to 25.
        seed (int): The random seed. Defaults to 0.

    Returns:
        list[str]: The paths of the videos written.
    """
    low, high = seconds
    if not len(PHASES) <= low <= high:
        raise ValueError(f'seconds must be (min, max) with {len(PHASES)} <= '
                         f'min <= max (a second per phase), got {seconds}.')
    if size < 16 or fps < 1 or num_videos < 1:
        raise ValueError('size must be >= 16, fps and num_videos >= 1; got '
                         f'size={size}, fps={fps}, num_videos={num_videos}.')
    folders = {k: osp.join(out, k) for k in ('videos', 'phase_annotations',
                                              'tool_annotations')}
    for folder in folders.values():
        os.makedirs(folder, exist_ok=True)
    fourcc = cv2.VideoWriter_fourcc(*'MJPG')
    paths = []
    for index in range(1, num_videos + 1):
        rng = np.random.default_rng([seed, index])
        name = f'video{index:02d}'
        num_frames = int(round(rng.uniform(low, high) * fps))
        phases = np.repeat(np.arange(len(PHASES)),
                           phase_durations(rng, num_frames, fps))
        row_frames = np.arange(0, num_frames, fps)
        rows = tool_rows(rng, phases[row_frames])
        video = _Video(rng, size, fps)
        strengths = video.strengths(phases)

        path = osp.join(folders['videos'], f'{name}.avi')
        writer = cv2.VideoWriter(path, fourcc, fps, (size, size))
        if not writer.isOpened():
            raise RuntimeError(f'{path}: OpenCV cannot write MJPG AVI files.')
        try:
            for frame in range(num_frames):
                writer.write(
                    video.render(frame / fps, strengths[frame],
                                 rows[frame // fps]))
        finally:
            writer.release()
        _check_video(path, num_frames, size)
        paths.append(path)

        with open(osp.join(folders['phase_annotations'],
                           f'{name}-phase.txt'), 'w') as f:
            f.write('Frame\tPhase\n')
            f.writelines(f'{i}\t{PHASES[p]}\n' for i, p in enumerate(phases))
        with open(osp.join(folders['tool_annotations'], f'{name}-tool.txt'),
                  'w') as f:
            f.write('\t'.join(('Frame', ) + TOOLS) + '\n')
            f.writelines(f'{i}\t' + '\t'.join(map(str, row)) + '\n'
                         for i, row in zip(row_frames, rows))
    _write_readme(out, num_videos, size, seconds, fps, seed)
    return paths


def _write_readme(out, num_videos, size, seconds, fps, seed) -> None:
    with open(osp.join(out, 'README.txt'), 'w') as f:
        f.write(
            'Synthetic surgical videos in the Cholec80 layout, written by\n'
            'tools/dataset_converters/make_demo_surgical_videos.py '
            f'(seed {seed}).\n'
            'NOT real data: for testing the surgical video pipeline only; '
            'results on it say\nnothing about Cholec80.\n\n'
            f'videos/videoXX.avi: {num_videos} MJPG videos, {size}x{size} '
            f'pixels, {fps} fps,\n    {seconds[0]:g}-{seconds[1]:g} s each. '
            'Every video runs through the 7 phases\n    in order, each at '
            'least 1 s.\n'
            'phase_annotations/videoXX-phase.txt: "Frame<TAB>Phase", one '
            'line per frame.\n'
            'tool_annotations/videoXX-tool.txt: "Frame<TAB>'
            + '<TAB>'.join(TOOLS) + '",\n'
            f'    one row every {fps} frames (each second), 0/1 presence.\n\n'
            'Phases: ' + ', '.join(PHASES) + '.\n')


def main(argv=None):
    args = parse_args(argv)
    paths = make_demo_surgical_videos(args.out, args.num_videos, args.size,
                                      tuple(args.seconds), args.fps,
                                      args.seed)
    print(f'Wrote {len(paths)} synthetic surgical videos with phase and '
          f'tool annotations to {args.out}.')


if __name__ == '__main__':
    main()
