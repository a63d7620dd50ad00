"""Boxes and token grids: how a relevance-map cell maps to pixels of the original image (paper Sec. 3.2, App. A.5).

A `GridLayout` says which rectangle of the ORIGINAL image (pixel coordinates, possibly reaching outside the image
where the model padded it) a rows × cols token grid covers. Adapters build one per image; everything downstream
(proposals, crops, recall) works through it and never needs to know the model family.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

Box = tuple[int, int, int, int]  # (x0, y0, x1, y1) pixels, half-open
CellBox = tuple[int, int, int, int]  # (r0, c0, r1, c1) grid cells, half-open


@dataclass(frozen=True)
class GridLayout:
    rows: int
    cols: int
    region: tuple[float, float, float, float]  # (x0, y0, x1, y1) in original-image pixels covered by the grid
    image_size: tuple[int, int]  # (width, height) of the original image

    @property
    def cell_size(self) -> tuple[float, float]:
        x0, y0, x1, y1 = self.region
        return (x1 - x0) / self.cols, (y1 - y0) / self.rows

    def cell_box(self, cells: CellBox) -> Box:
        """Pixel box of the original image covered by grid cells [r0, r1) × [c0, c1), padding removed (clipped)."""
        r0, c0, r1, c1 = cells
        cw, ch = self.cell_size
        x0, y0 = self.region[0] + c0 * cw, self.region[1] + r0 * ch
        x1, y1 = self.region[0] + c1 * cw, self.region[1] + r1 * ch
        return clip_box((round(x0), round(y0), round(x1), round(y1)), self.image_size)

    def cell_of_pixel(self, x: float, y: float) -> tuple[int, int]:
        cw, ch = self.cell_size
        r = int((y - self.region[1]) // ch)
        c = int((x - self.region[0]) // cw)
        return min(max(r, 0), self.rows - 1), min(max(c, 0), self.cols - 1)

    def resized(self, rows: int, cols: int) -> "GridLayout":
        """The same region seen as a coarser/finer grid (after downsampling a map)."""
        return GridLayout(rows, cols, self.region, self.image_size)

    def to_dict(self) -> dict:
        return asdict(self)


def clip_box(box, image_size) -> Box:
    w, h = image_size
    x0, y0, x1, y1 = box
    x0, x1 = max(0, min(int(x0), w)), max(0, min(int(x1), w))
    y0, y1 = max(0, min(int(y0), h)), max(0, min(int(y1), h))
    return x0, y0, max(x1, x0), max(y1, y0)


def box_area(box) -> float:
    return max(0, box[2] - box[0]) * max(0, box[3] - box[1])


def intersection(a, b) -> float:
    return box_area((max(a[0], b[0]), max(a[1], b[1]), min(a[2], b[2]), min(a[3], b[3])))


def iou(a, b) -> float:
    inter = intersection(a, b)
    union = box_area(a) + box_area(b) - inter
    return inter / union if union > 0 else 0.0


def union_box(boxes) -> Box:
    boxes = list(boxes)
    return (min(b[0] for b in boxes), min(b[1] for b in boxes), max(b[2] for b in boxes), max(b[3] for b in boxes))


def box_center(box) -> tuple[float, float]:
    return (box[0] + box[2]) / 2, (box[1] + box[3]) / 2


def enlarge_to_min_size(box, min_size: int, image_size) -> Box:
    """Grow a box around its centre to at least min_size × min_size (App. A.3: crops should span roughly the
    encoder's base resolution), shifted to stay inside the image and clipped where the image is smaller."""
    w, h = image_size
    x0, y0, x1, y1 = box
    cx, cy = box_center(box)
    bw, bh = max(x1 - x0, min(min_size, w)), max(y1 - y0, min(min_size, h))
    nx0 = min(max(cx - bw / 2, 0), w - bw)
    ny0 = min(max(cy - bh / 2, 0), h - bh)
    return clip_box((round(nx0), round(ny0), round(nx0 + bw), round(ny0 + bh)), image_size)


def merge_overlapping(boxes) -> list[Box]:
    """Merge boxes that overlap (transitively) into their union boxes (type-2 questions, App. A.5)."""
    merged = [tuple(b) for b in boxes]
    changed = True
    while changed:
        changed = False
        out: list = []
        for b in merged:
            for i, o in enumerate(out):
                if intersection(b, o) > 0:
                    out[i] = union_box([b, o])
                    changed = True
                    break
            else:
                out.append(b)
        merged = out
    return merged


def coverage(gt_box, roi_box) -> float:
    """Fraction of the ground-truth box's area that the ROI covers (V* recall, paper Sec. 4.3)."""
    a = box_area(gt_box)
    return intersection(gt_box, roi_box) / a if a > 0 else 0.0
