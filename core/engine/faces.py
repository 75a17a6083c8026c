"""Faces in photos: MTCNN's three-stage cascade on ONNX Runtime and numpy.

The networks are facenet-pytorch's P-Net, R-Net and O-Net, exported once to
``resources/faces/`` by ``resources/build_face_detector.py``; detecting needs
onnxruntime, numpy and Pillow only. The cascade follows facenet-pytorch's
``detect_face`` step by step (same pyramid, same area resampling, same NMS and
box regressions), so it finds the same faces with the same scores.

Photos are searched on a copy whose longer side is at most
:data:`DETECT_LONG_SIDE` pixels, decoded for it (not the backbone's 224-pixel
input, where a face in a group photo is a few pixels wide). Faces are returned
with their box and landmarks as fractions of the photo's width and height, so
they hold for the original whatever size it was decoded at.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from functools import cached_property
from importlib import resources
from pathlib import Path

import numpy as np
from PIL import Image

DETECT_LONG_SIDE = 800
"""Faces are searched on a copy at most this long (COCO photos, 640 px, stay as they are)."""
DETECT_SHORT_SIDE = 600
"""Photos are decoded at least this short-sided for detection (JPEG draft decoding)."""
MIN_FACE_SIZE = 28
"""Smallest face searched for, in pixels of the detection copy. facenet-pytorch's default
is 20; on coco-mini's train2017 photos 28 halves the search's time (0.12 to 0.065 s of CPU
per photo) and leaves the people model's average precision where it was (0.850 to 0.855),
though faces alone lose some (0.753 to 0.725): the faces it misses are a few pixels wide."""
STAGE_THRESHOLDS = (0.6, 0.7, 0.7)
"""Score a candidate needs to pass P-Net, R-Net and O-Net (facenet-pytorch's defaults)."""
PYRAMID_FACTOR = 0.709
"""Scale between two levels of the image pyramid (about 1/sqrt(2))."""
CONFIDENT_FACE = 0.9
"""A face at least this sure counts as someone being there (no false face on coco-mini's
photos without people at this level)."""

_MODELS_DIR = "faces"
_NMS_BLOCK = 1024


@dataclass(frozen=True)
class Detections:
    """Faces in the pixels of the image searched, best first.

    Attributes:
        boxes: (n, 4) left, top, right, bottom.
        scores: (n,) O-Net's face probability.
        landmarks: (n, 5, 2) x, y of the eyes, the nose and the mouth's corners.
    """

    boxes: np.ndarray
    scores: np.ndarray
    landmarks: np.ndarray

    def __len__(self) -> int:
        return len(self.scores)


@dataclass(frozen=True)
class Face:
    """One face, placed as fractions of the photo's width and height (0..1).

    Attributes:
        box: left, top, right, bottom.
        score: The detector's confidence.
        landmarks: x, y of the left eye, right eye, nose, left and right mouth corner.
        embedding: The face's 128-d descriptor (:mod:`core.engine.face_encoder`), when computed.
    """

    box: tuple[float, float, float, float]
    score: float
    landmarks: tuple[tuple[float, float], ...]
    embedding: np.ndarray | None = field(default=None, compare=False, repr=False)

    @property
    def area(self) -> float:
        """Share of the photo the box covers."""
        left, top, right, bottom = self.box
        return max(right - left, 0.0) * max(bottom - top, 0.0)


def detector_version(
    *,
    min_face_size: int = MIN_FACE_SIZE,
    thresholds: tuple[float, float, float] = STAGE_THRESHOLDS,
) -> str:
    """Names the detector and its settings: stored with faces, so a change redoes them."""
    manifest = _manifest()
    digest = "".join(net["sha256"][:4] for net in manifest["nets"].values())
    stages = "-".join(f"{t:g}" for t in thresholds)
    return f"{manifest['detector']}-{digest}-{DETECT_LONG_SIDE}-{min_face_size}-{stages}"


def _models_dir() -> Path:
    return Path(str(resources.files("resources").joinpath(_MODELS_DIR)))


def _manifest() -> dict:
    return json.loads((_models_dir() / "manifest.json").read_text(encoding="utf-8"))


class FaceDetector:
    """MTCNN on ONNX Runtime. Safe to call from several threads at once.

    Args:
        threads: Intra-op threads per network; one suits detection running in
            every decoding thread.
        models_dir: Folder with ``pnet.onnx``, ``rnet.onnx`` and ``onet.onnx``
            (default: the bundled ones).
        min_face_size: Smallest face searched for, in pixels of the image given.
    """

    def __init__(
        self,
        *,
        threads: int = 1,
        models_dir: Path | None = None,
        min_face_size: int = MIN_FACE_SIZE,
        thresholds: tuple[float, float, float] = STAGE_THRESHOLDS,
        factor: float = PYRAMID_FACTOR,
    ) -> None:
        import onnxruntime as ort

        folder = models_dir or _models_dir()
        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
        options.add_session_config_entry("session.intra_op.allow_spinning", "0")
        options.enable_mem_pattern = False  # P-Net sees a new size at every pyramid level

        def session(name: str) -> ort.InferenceSession:
            return ort.InferenceSession(
                str(folder / f"{name}.onnx"),
                sess_options=options,
                providers=["CPUExecutionProvider"],
            )

        self._pnet, self._rnet, self._onet = session("pnet"), session("rnet"), session("onet")
        self.min_face_size = min_face_size
        self.thresholds = thresholds
        self.factor = factor

    @cached_property
    def version(self) -> str:
        return detector_version(min_face_size=self.min_face_size, thresholds=self.thresholds)

    def faces(self, image: Image.Image) -> tuple[Face, ...]:
        """Faces in an RGB photo, largest first, placed as fractions of its size."""
        copy = detection_copy(image)
        found = self.detect(np.asarray(copy))
        width, height = copy.size
        scale = np.array([width, height, width, height], dtype=np.float64)
        faces = []
        for box, score, points in zip(found.boxes, found.scores, found.landmarks, strict=True):
            rel = np.clip(box / scale, 0.0, 1.0)
            marks = tuple(
                (float(np.clip(x / width, 0, 1)), float(np.clip(y / height, 0, 1)))
                for x, y in points
            )
            faces.append(Face(tuple(float(v) for v in rel), float(score), marks))  # type: ignore[arg-type]
        return tuple(sorted(faces, key=lambda f: -f.area))

    def detect(self, pixels: np.ndarray) -> Detections:
        """Run the cascade on (height, width, 3) uint8 RGB pixels; boxes in those pixels."""
        if pixels.ndim != 3 or pixels.shape[2] != 3:
            raise ValueError(f"expected (height, width, 3) RGB pixels, got shape {pixels.shape}")
        tables = _Pixels(pixels)
        boxes = self._stage_one(tables)
        if len(boxes):
            boxes = self._stage_two(tables, boxes)
        if len(boxes):
            return self._stage_three(tables, boxes)
        return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))

    # -- the three stages ----------------------------------------------------------

    def _stage_one(self, tables: _Pixels) -> np.ndarray:
        """P-Net over the pyramid: (n, 5) squared candidate boxes with their scores."""
        found = []
        height, width = tables.height, tables.width
        for scale in _pyramid(height, width, self.min_face_size, self.factor):
            level = tables.resampled(int(height * scale + 1), int(width * scale + 1))
            reg, prob = self._pnet.run(None, {"pixels": _normalise(level)[None]})
            boxes = _candidate_boxes(reg[0], prob[0, 1], scale, self.thresholds[0])
            found.append(boxes[_nms(boxes[:, :4], boxes[:, 4], 0.5)])
        boxes = np.concatenate(found) if found else np.zeros((0, 9), dtype=np.float32)
        boxes = boxes[_nms(boxes[:, :4], boxes[:, 4], 0.7)]
        size_w = boxes[:, 2] - boxes[:, 0]
        size_h = boxes[:, 3] - boxes[:, 1]
        shifted = np.stack(
            [
                boxes[:, 0] + boxes[:, 5] * size_w,
                boxes[:, 1] + boxes[:, 6] * size_h,
                boxes[:, 2] + boxes[:, 7] * size_w,
                boxes[:, 3] + boxes[:, 8] * size_h,
                boxes[:, 4],
            ],
            axis=1,
        )
        return _square(shifted)

    def _stage_two(self, tables: _Pixels, boxes: np.ndarray) -> np.ndarray:
        """R-Net on 24-pixel crops: refined, squared boxes that pass."""
        boxes, crops = _crops(tables, boxes, 24)
        if not len(boxes):
            return boxes
        reg, prob = self._rnet.run(None, {"pixels": crops})
        keep = prob[:, 1] > self.thresholds[1]
        boxes = np.concatenate([boxes[keep, :4], prob[keep, 1:2]], axis=1)
        reg = reg[keep]
        pick = _nms(boxes[:, :4], boxes[:, 4], 0.7)
        return _square(_regress(boxes[pick], reg[pick]))

    def _stage_three(self, tables: _Pixels, boxes: np.ndarray) -> Detections:
        """O-Net on 48-pixel crops: final boxes, scores and landmarks."""
        boxes, crops = _crops(tables, boxes, 48)
        if not len(boxes):
            return Detections(np.zeros((0, 4)), np.zeros(0), np.zeros((0, 5, 2)))
        reg, marks, prob = self._onet.run(None, {"pixels": crops})
        keep = prob[:, 1] > self.thresholds[2]
        boxes = np.concatenate([boxes[keep, :4], prob[keep, 1:2]], axis=1)
        reg, marks = reg[keep], marks[keep]
        box_w = boxes[:, 2:3] - boxes[:, 0:1] + 1
        box_h = boxes[:, 3:4] - boxes[:, 1:2] + 1
        points = np.stack(
            [box_w * marks[:, :5] + boxes[:, 0:1] - 1, box_h * marks[:, 5:] + boxes[:, 1:2] - 1],
            axis=2,
        )
        boxes = _regress(boxes, reg)
        pick = _nms(boxes[:, :4], boxes[:, 4], 0.7, by_smaller=True)
        order = pick[np.argsort(-boxes[pick, 4], kind="stable")]
        return Detections(
            boxes[order, :4].astype(np.float64),
            boxes[order, 4].astype(np.float64),
            points[order].astype(np.float64),
        )


def detection_copy(image: Image.Image, *, long_side: int = DETECT_LONG_SIDE) -> Image.Image:
    """The photo reduced so its longer side is at most ``long_side`` (never enlarged)."""
    width, height = image.size
    scale = long_side / max(width, height)
    if scale >= 1:
        return image.convert("RGB") if image.mode != "RGB" else image
    size = (max(1, round(width * scale)), max(1, round(height * scale)))
    return image.convert("RGB").resize(size, Image.Resampling.BILINEAR, reducing_gap=2.0)


# -- numpy pieces (each mirrors a step of facenet-pytorch's detect_face) ---------------


def _pyramid(height: int, width: int, min_face_size: int, factor: float) -> list[float]:
    """Scales at which P-Net's 12-pixel window covers faces from ``min_face_size`` up."""
    first = 12.0 / min_face_size
    shortest = min(height, width) * first
    scales = []
    scale = first
    while shortest >= 12:
        scales.append(scale)
        scale *= factor
        shortest *= factor
    return scales


class _Pixels:
    """Summed-area tables of one photo, so any box's mean costs a few look-ups.

    Sums are kept in integers (exact); channel-first so every look-up lands
    where the networks want it.
    """

    def __init__(self, pixels: np.ndarray) -> None:
        self.height, self.width = pixels.shape[:2]
        dtype = np.int32 if self.height * self.width * 255 < 2**31 else np.int64
        planes = pixels.transpose(2, 0, 1)
        # rows[c, y, x]: sum of column x above row y; full[c, y, x]: sum of the box above-left.
        self.rows = np.zeros((3, self.height + 1, self.width), dtype=dtype)
        np.cumsum(planes, axis=1, dtype=dtype, out=self.rows[:, 1:])
        self.full = np.zeros((3, self.height + 1, self.width + 1), dtype=dtype)
        np.cumsum(self.rows, axis=2, out=self.full[:, :, 1:])

    def resampled(self, out_h: int, out_w: int) -> np.ndarray:
        """The whole photo at (3, out_h, out_w), averaged by area as torch does."""
        (y0,), (y1,) = _area_bounds(np.array([0]), np.array([self.height]), out_h)
        (x0,), (x1,) = _area_bounds(np.array([0]), np.array([self.width]), out_w)
        band = self.rows[:, y1] - self.rows[:, y0]
        summed = np.zeros((3, out_h, self.width + 1), dtype=band.dtype)
        np.cumsum(band, axis=2, out=summed[:, :, 1:])
        total = summed[:, :, x1] - summed[:, :, x0]
        count = (y1 - y0)[:, None] * (x1 - x0)[None, :]
        return total.astype(np.float32) / count.astype(np.float32)

    def crops(
        self, top: np.ndarray, left: np.ndarray, height: np.ndarray, width: np.ndarray, size: int
    ) -> np.ndarray:
        """Many boxes, each averaged by area to (3, size, size): (n, 3, size, size)."""
        y0, y1 = _area_bounds(top, height, size)
        x0, x1 = _area_bounds(left, width, size)
        ys0, ys1 = y0[:, :, None] * (self.width + 1), y1[:, :, None] * (self.width + 1)
        xs0, xs1 = x0[:, None, :], x1[:, None, :]
        flat = self.full.reshape(3, -1)
        corners = np.stack([ys1 + xs1, ys0 + xs1, ys1 + xs0, ys0 + xs0])
        picked = np.take(flat, corners, axis=1)  # (3, 4, n, size, size)
        total = picked[:, 0] - picked[:, 1] - picked[:, 2] + picked[:, 3]
        count = (y1 - y0)[:, :, None] * (x1 - x0)[:, None, :]
        return (total.astype(np.float32) / count.astype(np.float32)).transpose(1, 0, 2, 3)


def _area_bounds(start: np.ndarray, length: np.ndarray, out: int) -> tuple[np.ndarray, np.ndarray]:
    """Per output cell, the input span torch's ``interpolate(mode="area")`` averages.

    Args:
        start: (n,) first input pixel of each region.
        length: (n,) input pixels in each region.
        out: Output cells per region.

    Returns:
        (n, out) first and one-past-last input pixel of every cell.
    """
    cells = np.arange(out)
    lo = (cells[None, :] * length[:, None]) // out
    hi = -((-(cells[None, :] + 1) * length[:, None]) // out)  # ceiling division
    return start[:, None] + lo, start[:, None] + hi


def _normalise(pixels: np.ndarray) -> np.ndarray:
    return ((pixels - np.float32(127.5)) * np.float32(0.0078125)).astype(np.float32)


def _candidate_boxes(reg: np.ndarray, prob: np.ndarray, scale: float, threshold: float):
    """P-Net cells over ``threshold`` as boxes in the photo: (n, 9) box, score, regression."""
    rows, cols = np.nonzero(prob >= threshold)
    score = prob[rows, cols]
    offsets = reg[:, rows, cols].T
    cells = np.stack([cols, rows], axis=1).astype(np.float32)
    first = np.floor((2 * cells + 1) / np.float32(scale))
    last = np.floor((2 * cells + 12) / np.float32(scale))
    return np.concatenate([first, last, score[:, None], offsets], axis=1).astype(np.float32)


def _nms(boxes: np.ndarray, scores: np.ndarray, threshold: float, *, by_smaller: bool = False):
    """Indices kept by greedy non-maximum suppression, best score first.

    Overlap is intersection over union as torchvision measures it, or, with
    ``by_smaller``, over the smaller box with MTCNN's inclusive pixel areas (the
    final stage's "Min" rule).
    """
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    for start in range(0, len(order), _NMS_BLOCK):
        # Candidates are compared a block at a time against everything kept so far and
        # among themselves: memory stays bounded, and numpy does the pairs.
        block = order[start : start + _NMS_BLOCK]
        if keep:
            block = block[_overlap(boxes[keep], boxes[block], by_smaller).max(axis=0) <= threshold]
        over = _overlap(boxes[block], boxes[block], by_smaller) > threshold
        alive = np.ones(len(block), dtype=bool)
        for i in range(len(block)):
            if alive[i]:
                keep.append(int(block[i]))
                alive[i + 1 :] &= ~over[i, i + 1 :]
    return np.array(keep, dtype=np.int64)


def _overlap(a: np.ndarray, b: np.ndarray, by_smaller: bool) -> np.ndarray:
    """(len(a), len(b)) overlap of every pair of boxes (see :func:`_nms`)."""
    one = 1.0 if by_smaller else 0.0
    a, b = a[:, :4].astype(np.float64), b[:, :4].astype(np.float64)
    area_a = (a[:, 2] - a[:, 0] + one) * (a[:, 3] - a[:, 1] + one)
    area_b = (b[:, 2] - b[:, 0] + one) * (b[:, 3] - b[:, 1] + one)
    inter_w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    inter_h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.maximum(inter_w + one, 0.0) * np.maximum(inter_h + one, 0.0)
    if by_smaller:
        return inter / np.minimum(area_a[:, None], area_b[None, :])
    return inter / (area_a[:, None] + area_b[None, :] - inter)


def _square(boxes: np.ndarray) -> np.ndarray:
    """Boxes made square around their centre, on their longer side."""
    boxes = boxes.copy()
    height = boxes[:, 3] - boxes[:, 1]
    width = boxes[:, 2] - boxes[:, 0]
    side = np.maximum(width, height)
    boxes[:, 0] = boxes[:, 0] + width * 0.5 - side * 0.5
    boxes[:, 1] = boxes[:, 1] + height * 0.5 - side * 0.5
    boxes[:, 2] = boxes[:, 0] + side
    boxes[:, 3] = boxes[:, 1] + side
    return boxes


def _regress(boxes: np.ndarray, reg: np.ndarray) -> np.ndarray:
    """Apply a network's box offsets (fractions of the inclusive box size)."""
    boxes = boxes.copy()
    width = boxes[:, 2] - boxes[:, 0] + 1
    height = boxes[:, 3] - boxes[:, 1] + 1
    boxes[:, 0] += reg[:, 0] * width
    boxes[:, 1] += reg[:, 1] * height
    boxes[:, 2] += reg[:, 2] * width
    boxes[:, 3] += reg[:, 3] * height
    return boxes


def _crops(tables: _Pixels, boxes: np.ndarray, size: int) -> tuple[np.ndarray, np.ndarray]:
    """The boxes' pixels (cut at the photo's edges) at ``size`` x ``size``, normalised.

    Returns:
        The boxes whose crop is not empty, and their crops (n, 3, size, size).
    """
    ints = np.trunc(boxes[:, :4]).astype(np.int64)
    left = np.maximum(ints[:, 0], 1) - 1
    top = np.maximum(ints[:, 1], 1) - 1
    right = np.minimum(ints[:, 2], tables.width)
    bottom = np.minimum(ints[:, 3], tables.height)
    ok = (right > left) & (bottom > top)
    if not ok.all():
        boxes, left, top, right, bottom = (a[ok] for a in (boxes, left, top, right, bottom))
    crops = tables.crops(top, left, bottom - top, right - left, size)
    return boxes, _normalise(crops)


def describe_people(count: int) -> str:
    """'1 person', '3 people': what the bot may say, never who."""
    return f"{count} person" if count == 1 else f"{count} people"


def box_overlap(a: tuple[float, ...], b: tuple[float, ...]) -> float:
    """Intersection over union of two (left, top, right, bottom) boxes."""
    width = min(a[2], b[2]) - max(a[0], b[0])
    height = min(a[3], b[3]) - max(a[1], b[1])
    if width <= 0 or height <= 0:
        return 0.0
    inter = width * height
    union = (a[2] - a[0]) * (a[3] - a[1]) + (b[2] - b[0]) * (b[3] - b[1]) - inter
    return inter / union if union > 0 else 0.0


def match_boxes(
    new: list[tuple[float, ...]], old: dict[int, tuple[float, ...]], *, min_overlap: float = 0.5
) -> dict[int, int]:
    """Which new box is which old one (same face found again): {new index: old id}.

    Pairs are taken best overlap first; each box is used at most once.
    """
    pairs = sorted(
        (
            (box_overlap(box, prev), i, fid)
            for i, box in enumerate(new)
            for fid, prev in old.items()
        ),
        reverse=True,
    )
    matched: dict[int, int] = {}
    used: set[int] = set()
    for overlap, i, fid in pairs:
        if overlap < min_overlap:
            break
        if i not in matched and fid not in used:
            matched[i] = fid
            used.add(fid)
    return matched
