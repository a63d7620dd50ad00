"""ZoomEye as a method of this harness: tree search over an image quadtree guided by the model's own yes/no
confidences (the paper's strongest baseline: Sec. 4.2, App. A.4, Tables 10, 11, 14, 15).

Read from the original code, om-ai-lab/ZoomEye (`ZoomEye/tree.py`, `zoom_eye.py`, `zoom_model.py`,
`zoom_model_qwenvl.py`, `eval/perform_zoom_eye.py`); docs/baselines.md summarises it and the README section
"Baselines" lists every place where this implementation differs.

- Tree (`build_tree`): root = the whole image; a node splits into 2×2, or 1×4 / 4×1 when its height/width ratio is
  ≥ 2 / ≤ 0.5 (`split_num=4`), until its long side is below the encoder's input size; searched to `depth_limit`.
- Type-1 search (`type1_search`): best-first over a queue sorted by priority existence·w + latent·(1 − w),
  w = (1 − b)/D²·depth² + b (`confidence_weight`); every popped node is asked whether the question can be answered
  from it; the search stops at an answering confidence ≥ `upper`; after `pop_limit` pops the threshold drops by the
  next `decrease` step and two more pops are allowed, and a popped node above the lowered threshold is taken.
- Type-2 search (`type2_search`): post-order to depth 2, existence only; a node is kept when its confidence is
  ≥ max(the best confidence below it, `visual_cue_threshold`).
- Views: local models (one image, LLaVA-1.5) see the node's crop; global-local models (several images: OneVision,
  Qwen2.5-VL) see the main image with the focus region drawn on it and the zoomed-in view, with ZoomEye's prompts.

Forward passes (paper App. A.2, the same accounting as FOCUS): `fp` counts every (view, prompt) confidence
evaluation, batched or not: 1 answering pass per popped node (not the root's in ZoomEye's multi-target search on
local models), 2 (existence + latent) per queued node, 1 existence pass per type-2 node, and 1 answering pass per
target in the global-local target filter. `fp_extract` = target extraction, `fp_answer` = the final answer.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from dataclasses import dataclass, field

from PIL import Image

from ..core.cost import stage
from ..core.geometry import merge_overlapping, union_box
from ..stages.inference import draw_boxes
from ..stages.ranker import existence_confidence
from ..stages.targets import extract_targets

# ZoomEye's prompts (zoom_model.py `init_prompts`, "the the" sic). `local`: one-image models; `global`: the root of
# a global-local model; `zoom`: a zoomed node of a global-local model, after ZOOM_PREAMBLE's two images.
PROMPTS = {
    "local": {
        "latent": "According to your common sense knowledge and the content of the image, is it possible to find a {} "
                  "in the image? Answer Yes or No and tell the reason.",
        "existence": "Is there a {} in the image? Answer Yes or No.",
        "answering": "Question: {}\nCould you answer the question based on the the available visual information? "
                     "Answer Yes or No.",
    },
    "global": {
        "latent": "According to your common sense knowledge and the content of image, is it possible to find a {} by "
                  "further zooming in the image? Answer Yes or No and tell the reason.",
        "existence": "Is there a {} in the image? Answer Yes or No.",
        "answering": "Question: {}\nCould you answer the question based on the the available visual information? "
                     "Answer Yes or No.",
    },
    "zoom": {
        "latent": "According to your common sense knowledge and the content of the zoomed-in view, along with its "
                  "location in the image, is it possible to find a {} by further zooming in the current view? Answer "
                  "Yes or No and tell the reason.",
        "existence": "Is there a {} in the zoomed-in view? Answer Yes or No.",
        "answering": "Question: {}\nCould you answer the question based on the the available visual information? "
                     "Answer Yes or No.",
    },
}
ZOOM_PREAMBLE = ("This is the main image, and the section enclosed by the {color} rectangle is the focus region.\n",
                 "This is the zoomed-in view of the focus region.\n")
# The final answer goes through the harness's inference scheme, which puts all images before the text: the two
# views are introduced in words instead (README "Baselines").
ANSWER_PREAMBLE = ("The first image is the main image, and the section enclosed by the {color} rectangle is the focus "
                   "region. The second image is the zoomed-in view of the focus region.\n")


# ------------------------------------------------------------------------------------------------------ the tree
@dataclass(eq=False)
class Node:
    box: tuple[int, int, int, int]  # (x, y, w, h) in original-image pixels, as ZoomEye's ZoomState.bbox
    depth: int
    children: list["Node"] = field(default_factory=list)
    existence: float | None = None
    latent: float | None = None
    priority: float | None = None  # existence·w + latent·(1 − w), once queued
    answering: float | None = None  # once popped (None: not evaluated; ZoomEye's -1 for the skipped root)
    popped: bool = False

    @property
    def is_root(self) -> bool:
        return self.depth == 0

    @property
    def is_leaf(self) -> bool:
        return not self.children

    @property
    def xyxy(self) -> tuple[int, int, int, int]:
        x, y, w, h = self.box
        return x, y, x + w, y + h

    def walk(self):
        yield self
        for child in self.children:
            yield from child.walk()


def split_counts(width: float, height: float, split_num: int) -> tuple[int, int]:
    """(columns, rows) a node splits into (tree.py `split_4_subpatches`, `split_8or9_subpatches`,
    `split_16_subpatches`). `split_num=2` is not in the original code: it halves the long side (the "2 crops" rows
    of the paper's Table 10, App. A.4)."""
    ratio = height / width
    table = {4: ((1, 4), (4, 1), (2, 2)), 9: ((2, 4), (4, 2), (3, 3)), 16: ((2, 8), (8, 2), (4, 4))}
    if split_num == 2:
        return (1, 2) if height >= width else (2, 1)
    if split_num not in table:
        raise ValueError(f"zoomeye split_num must be 2, 4, 9 or 16, got {split_num}")
    tall, wide, square = table[split_num]
    return tall if ratio >= 2 else wide if ratio <= 0.5 else square


def sub_boxes(box, n_cols: int, n_rows: int) -> list[tuple[int, int, int, int]]:
    """Children boxes in row-major order; the last row/column takes the remainder (tree.py `get_sub_patches`)."""
    x, y, w, h = box
    sw, sh = int(w // n_cols), int(h // n_rows)
    out = []
    for j in range(n_rows):
        for i in range(n_cols):
            cw = w - i * sw if i == n_cols - 1 else sw
            ch = h - j * sh if j == n_rows - 1 else sh
            out.append((x + i * sw, y + j * sh, cw, ch))
    return out


def build_tree(width: int, height: int, patch_size: int, split_num: int, depth_limit: int) -> tuple[Node, int]:
    """The image tree down to `depth_limit` (a node whose long side is below `patch_size` is a leaf, tree.py
    `is_terminal`). Returns (root, depth of the deepest node) — ZoomEye's min(tree depth, depth_limit)."""
    root = Node((0, 0, width, height), 0)
    deepest, stack = 0, [root]
    while stack:
        node = stack.pop()
        deepest = max(deepest, node.depth)
        x, y, w, h = node.box
        if node.depth >= depth_limit or max(w, h) < patch_size:
            continue
        node.children = [Node(b, node.depth + 1) for b in sub_boxes(node.box, *split_counts(w, h, split_num))]
        stack.extend(node.children)
    return root, deepest


def confidence_weight(depth: int, max_depth: int, bias: float) -> float:
    """w = (1 − b)/D²·depth² + b: deep nodes trust existence, shallow ones the latent (zoom_model.py
    `get_confidence_weight`, D = the searched depth)."""
    return (1.0 - bias) / max_depth ** 2 * depth ** 2 + bias


def patch_box(box, image_size, patch_size: int, patch_scale: float | None) -> tuple[int, int, int, int]:
    """The crop the model sees for a node: at least patch_size wide and high around the node's centre, scaled by
    `patch_scale`, clipped at the image (zoom_model.py `get_patch`; not shifted back inside at the right/bottom)."""
    x, y, w, h = box
    width, height = image_size
    cx, cy = int(x + w / 2), int(y + h / 2)
    pw, ph = max(math.ceil(w), patch_size), max(math.ceil(h), patch_size)
    if patch_scale is not None:
        pw, ph = int(pw * patch_scale), int(ph * patch_scale)
    left, top = max(0, cx - pw // 2), max(0, cy - ph // 2)
    return left, top, min(left + pw, width), min(top + ph, height)


def merge_near_boxes(boxes, buffer: int) -> list[tuple]:
    """Merge boxes closer than 2·buffer px (utils.py `merge_bbox_list`: intersection after growing each box by
    `buffer`). Growing commutes with the union box, so merging the grown boxes and shrinking back is the same."""
    grown = [(b[0] - buffer, b[1] - buffer, b[2] + buffer, b[3] + buffer) for b in boxes]
    return [(b[0] + buffer, b[1] + buffer, b[2] - buffer, b[3] - buffer) for b in merge_overlapping(grown)]


def side_by_side(image: Image.Image, box1, box2, side: int, fill) -> Image.Image:
    """Two distant regions of a local-model answer: each resized to side², pasted left and right on a 2·side
    canvas, vertically offset by half their centres' offset (utils.py `union_blocks_independent`)."""
    if box1[0] > box2[0]:
        box1, box2 = box2, box1
    canvas = Image.new("RGB", (2 * side, 2 * side), tuple(fill))
    offset = max(-side, min(side, (box2[3] + box2[1]) // 2 - (box1[3] + box1[1]) // 2))
    canvas.paste(image.crop(box1).resize((side, side)), (0, side // 2 - offset // 2))
    canvas.paste(image.crop(box2).resize((side, side)), (side, side // 2 + offset // 2))
    return canvas


def expand_to_square(image: Image.Image, fill) -> tuple[Image.Image, int, int]:
    """Pad to a square with `fill`, image centred (utils.py `expand2square`); returns (square, left, top)."""
    w, h = image.size
    if w == h:
        return image.copy(), 0, 0
    side = max(w, h)
    left, top = (side - w) // 2, (side - h) // 2
    square = Image.new(image.mode, (side, side), tuple(fill))
    square.paste(image, (left, top))
    return square, left, top


# ---------------------------------------------------------------------------------------------------- searches
@dataclass
class Type1Result:
    candidates: list[Node]
    num_pop: int
    num_zoom_in: int
    num_zoom_out: int
    threshold: float  # the answering threshold when the search ended
    scored: list[Node]  # nodes whose priority was computed, in evaluation order


def type1_search(root: Node, max_depth: int, answering: Callable[[Node], float],
                 score: Callable[[list[Node]], list[tuple[float, float]]], bias: float, upper: float, lower: float,
                 decrease: list[float], pop_limit: int, num_interval: int = 2, force_no_root: bool = False,
                 force_visit_bottom: bool = False) -> Type1Result:
    """ZoomEye's best-first search for one target (zoom_eye.py `zoom_eye_search_type1`).

    answering(node) → the answering confidence of a popped node; score(nodes) → (existence, latent) of each newly
    queued node (one batch). The queue is re-sorted by priority after every pop (a stable sort, as Python's).
    Returns the candidates (ZoomEye then answers on the deepest) and its counters.
    """
    queue, trace, candidates, scored = [root], [], [], []
    decrease, num_pop, visit_bottom = list(decrease), 0, False
    last_depth, zoom_in, zoom_out = -1, 0, 0
    while queue:
        node = queue.pop(0)
        if last_depth != -1:
            zoom_in += node.depth > last_depth
            zoom_out += node.depth < last_depth
        last_depth = node.depth
        num_pop += 1
        node.popped = True
        trace.append(node)
        stop = False
        if not (force_no_root and node.is_root):
            node.answering = answering(node)
            stop = node.answering >= upper
        if stop:
            candidates.append(node)
            if not force_visit_bottom or visit_bottom:
                break
        elif num_pop >= pop_limit:  # budget spent: lower the bar, allow `num_interval` more pops
            upper -= decrease[0]
            if len(decrease) > 1:
                decrease.pop(0)
            pop_limit += num_interval
            above = [n for n in trace if _answering(n) >= upper and n not in candidates]
            candidates = sorted(candidates + above, key=_answering, reverse=True)[:1]
            if candidates or upper < lower:
                break
        if node.is_leaf or node.depth == max_depth:
            visit_bottom = True
            if force_visit_bottom and candidates:
                break
        else:
            queue.extend(node.children)
        fresh = [n for n in queue if n.priority is None]
        if fresh:
            for n, (e, lat) in zip(fresh, score(fresh)):
                w = confidence_weight(n.depth, max_depth, bias)
                n.existence, n.latent, n.priority = e, lat, e * w + lat * (1 - w)
            scored += fresh
        queue.sort(key=lambda n: n.priority, reverse=True)
    return Type1Result(candidates, num_pop, zoom_in, zoom_out, upper, scored)


def _answering(node: Node) -> float:
    return node.answering if node.answering is not None else -1.0  # ZoomEye sets the skipped root to -1


def type2_search(root: Node, depth_limit: int, threshold: float,
                 existence: Callable[[list[Node]], list[float]]) -> tuple[list[Node], list[Node]]:
    """ZoomEye's search for every instance of a target (zoom_eye.py `post_order_search`): the existence confidence
    of every node down to `depth_limit` (one batch: the values do not depend on the order), then, in post-order,
    keep a node whose confidence is ≥ max(the best confidence in its subtree below it, `threshold`).
    Returns (kept nodes in post-order, evaluated nodes)."""
    evaluated = [n for n in root.walk() if n.depth <= depth_limit]
    for n, c in zip(evaluated, existence(evaluated)):
        n.existence = c
    kept: list[Node] = []

    def visit(node: Node) -> float:
        best_below = -1.0
        if node.depth < depth_limit:
            for child in node.children:
                best_below = max(best_below, visit(child))
        if node.existence >= max(best_below, threshold):
            kept.append(node)
        return max(best_below, node.existence)

    visit(root)
    return kept, evaluated


# ------------------------------------------------------------------------------------------------------ method
class ZoomEye:
    """The `method=zoomeye` node. Per-family settings (b, thresholds, patch scale, main view) come from
    conf/method/zoomeye.yaml's `per_family` table, read from ZoomEye/eval/perform_zoom_eye.py."""

    name = "zoomeye"

    def __init__(self, targets, inference_scheme, bias_value: float = 0.2, upper: float = 0.6, lower: float = 0.0,
                 decrease=(0.1, 0.1, 0.2), visual_cue_threshold: float = 0.6, patch_scale: float | None = None,
                 main_view: str = "square", depth_limit: int = 5, split_num: int = 4, type2_depth_limit: int = 2,
                 pop_limit_per_depth: int = 3, num_interval: int = 2,
                 decomposed_question: str = "What is the appearance of the {}?", side_threshold: int = 1000,
                 merge_buffer: int = 50, view: str = "auto", patch_size: int | None = None, pad_color=None,
                 singularize_type2: bool = True, answer_preamble: bool = True, batch_size: int = 8,
                 max_nodes_in_record: int = 200, name: str = "zoomeye", per_family: dict | None = None):
        if view not in ("auto", "local", "global_local"):
            raise ValueError(f"zoomeye view must be auto, local or global_local, got {view!r}")
        if main_view not in ("square", "aspect"):
            raise ValueError(f"zoomeye main_view must be square or aspect, got {main_view!r}")
        if depth_limit < 1 or not decrease:
            raise ValueError("zoomeye depth_limit must be >= 1 and decrease non-empty")
        split_counts(1, 1, split_num)  # validates split_num before any model loads
        self.targets, self.inference_scheme, self.name = targets, inference_scheme, name
        self.bias, self.upper, self.lower = float(bias_value), float(upper), float(lower)
        self.decrease, self.visual_cue_threshold = [float(d) for d in decrease], float(visual_cue_threshold)
        self.patch_scale, self.main_view = patch_scale, main_view
        self.depth_limit, self.split_num, self.type2_depth_limit = int(depth_limit), int(split_num), int(type2_depth_limit)
        self.pop_limit_per_depth, self.num_interval = int(pop_limit_per_depth), int(num_interval)
        self.decomposed_question, self.side_threshold, self.merge_buffer = decomposed_question, side_threshold, merge_buffer
        self.view, self.patch_size, self.pad_color = view, patch_size, pad_color
        self.singularize_type2, self.answer_preamble = singularize_type2, answer_preamble
        self.batch_size, self.max_nodes_in_record = max(1, int(batch_size)), int(max_nodes_in_record)

    def __call__(self, adapter, sample, image) -> dict:
        targets, rec = extract_targets(self.targets, adapter, sample, image)
        with stage(adapter, "search"):
            run = _Run(self, adapter, image, sample.question)
            searched, rois, search = [], {}, {}
            objects, type2 = list(targets.objects), set(targets.type2_objects)  # ZoomEye's "all <target>" (Sec. 3.3)
            if run.global_local and len(objects) > 1:  # zoom_model.py `filter_visual_cues`
                kept = run.filter_targets(objects, type2)
                if len(kept) != len(objects):
                    rec["targets_answerable_on_root"] = [o for o in objects if o not in kept]
                    objects = []  # ZoomEye then answers on the whole image
            one_target = len(objects) == 1 and objects[0] not in type2
            for target in objects:
                root, max_depth = build_tree(*image.size, run.patch_size, self.split_num,
                                             max(self.depth_limit, self.type2_depth_limit))
                if target in type2:
                    cue = target[:-1] if self.singularize_type2 and target.endswith("s") else target
                    kept, evaluated = type2_search(root, self.type2_depth_limit, self.visual_cue_threshold,
                                                   lambda nodes, c=cue: run.confidences(nodes, "existence", c))
                    searched += kept
                    rois[target] = [run.node_record(n, target) for n in evaluated]
                    search[target] = {"type": 2, "kept": [list(n.xyxy) for n in kept]}
                    continue
                depth = min(max_depth, self.depth_limit)
                question = sample.question if one_target else self.decomposed_question.format(target)
                result = type1_search(
                    root, depth,
                    answering=lambda n, q=question: run.confidences([n], "answering", q)[0],
                    score=lambda nodes, t=target: run.priority_inputs(nodes, t),
                    bias=self.bias, upper=self.upper, lower=self.lower, decrease=self.decrease,
                    pop_limit=self.pop_limit_per_depth * depth, num_interval=self.num_interval,
                    force_no_root=not run.global_local and not one_target, force_visit_bottom=not one_target)
                chosen = sorted(result.candidates, key=lambda n: n.depth, reverse=True)[:1]  # the deepest candidate
                searched += chosen
                visited = [n for n in root.walk() if n.popped or n.priority is not None]
                rois[target] = [run.node_record(n, target) for n in visited][:self.max_nodes_in_record]
                search[target] = {"type": 1, "num_pop": result.num_pop, "num_zoom_in": result.num_zoom_in,
                                  "num_zoom_out": result.num_zoom_out, "final_threshold": round(result.threshold, 6),
                                  "chosen": list(chosen[0].xyxy) if chosen else None}
        with stage(adapter, "answer"):
            images, mode, boxes = run.views(searched, for_answer=True)
            answer_sample = sample
            if mode == "zoom_multi_image" and self.answer_preamble:
                lead = ANSWER_PREAMBLE.format(color=run.color)
                answer_sample = dataclasses.replace(sample, prompt=lead + sample.prompt,
                                                    question=lead + sample.question)
            prediction, fp_answer, extra = self.inference_scheme.answer(adapter, images, answer_sample)
        rec.update({"prediction": prediction, "fp": run.fp, "fp_answer": fp_answer, "rois": rois,
                    "chosen_boxes": [list(b) for b in boxes], "final_mode": mode, "search": search,
                    "num_pop": sum(s.get("num_pop", 0) for s in search.values()),
                    "num_zoom_in": sum(s.get("num_zoom_in", 0) for s in search.values()),
                    "num_zoom_out": sum(s.get("num_zoom_out", 0) for s in search.values()), **extra})
        return rec


class _Run:
    """One sample's search state: views, batched confidence evaluations and the fp counter."""

    def __init__(self, method: ZoomEye, adapter, image: Image.Image, question: str):
        self.m, self.adapter, self.image = method, adapter, image
        self.global_local = adapter.multi_image if method.view == "auto" else method.view == "global_local"
        self.patch_size = int(method.patch_size or adapter.base_resolution)
        self.fill = tuple(method.pad_color) if method.pad_color is not None else _processor_mean_colour(adapter)
        # HR-Bench asks about red rectangles: ZoomEye draws its focus region in blue there (zoom_eye.py)
        self.color = "blue" if "red rectangle" in question else "red"
        self.fp = 0
        self._square = None

    # ------------------------------------------------------------------------------------------------- views
    def square(self):
        if self._square is None:
            self._square = expand_to_square(self.image, self.fill)
        return self._square

    def views(self, nodes: list[Node], for_answer: bool = False, root_anyres: bool = True):
        """(images, prompt kind / final mode, boxes) for a list of nodes (zoom_model.py
        `process_nodes_to_image_list`)."""
        image, m = self.image, self.m
        root_only = len(nodes) == 1 and nodes[0].is_root
        if not self.global_local:
            if not nodes or root_only:
                return [image], ("whole_image" if for_answer else "local"), []
            boxes = merge_near_boxes([patch_box(n.box, image.size, self.patch_size, m.patch_scale) for n in nodes],
                                     m.merge_buffer)
            union = union_box(boxes)
            if len(boxes) == 2 and max(union[2] - union[0], union[3] - union[1]) > m.side_threshold:
                return [side_by_side(image, boxes[0], boxes[1], self.patch_size, self.fill)], "side_by_side", boxes
            return [image.crop(union)], ("crop" if for_answer else "local"), [union]
        if root_only and not root_anyres:  # the target filter asks the root at the encoder's base size
            return [self.main_view(self.square()[0] if m.main_view == "square" else image)], "global", []
        if not nodes or any(n.is_root for n in nodes):
            return [image], ("whole_image" if for_answer else "global"), []
        square, left, top = self.square()
        boxes = merge_near_boxes([patch_box(n.box, image.size, self.patch_size, m.patch_scale) for n in nodes],
                                 m.merge_buffer)
        thickness = square.width // 120
        drawn = []
        for b in boxes:  # utils.py `visualize_bbox_and_arrow`: the rectangle grows outwards by its thickness
            x0, y0, x1, y1 = b[0] + left, b[1] + top, b[2] + left, b[3] + top
            drawn.append((max(0, x0 - thickness), max(0, y0 - thickness), min(square.width, x1 + thickness),
                          min(square.height, y1 + thickness)))
        marked = draw_boxes(square, drawn, color=_RGB[self.color], width=thickness) if thickness else square
        zoomed = marked.crop(union_box(drawn))
        if m.main_view == "aspect":  # zoom_model_qwenvl.py: the original extent, long side resized
            main = self.main_view(marked.crop((left, top, left + image.width, top + image.height)))
        else:
            main = self.main_view(marked)
        return [main, zoomed], ("zoom_multi_image" if for_answer else "zoom"), boxes

    def main_view(self, picture: Image.Image) -> Image.Image:
        side = self.patch_size
        if self.m.main_view == "square":
            return picture.resize((side, side))
        w, h = picture.size
        return picture.resize((side, int(h * side / w)) if w > h else (int(w * side / h), side))

    # ---------------------------------------------------------------------------------------- confidences
    def content(self, node: Node, kind: str, element: str, root_anyres: bool = True) -> list:
        images, tag, _ = self.views([node], root_anyres=root_anyres)
        prompt = PROMPTS[tag][kind].format(element)
        if tag == "zoom":
            first, second = ZOOM_PREAMBLE
            return [images[0], first.format(color=self.color), images[1], second + prompt]
        return [images[0], prompt]

    def evaluate(self, contents: list[list]) -> list[float]:
        """Eq. 5 confidence of each prompt, in batches of `batch_size` (one fp per prompt, App. A.2)."""
        out: list[float] = []
        for i in range(0, len(contents), self.m.batch_size):
            logits = self.adapter.yes_no_logits_interleaved(contents[i:i + self.m.batch_size])
            out += existence_confidence(logits[:, 0], logits[:, 1]).reshape(-1).tolist()
        self.fp += len(contents)
        return out

    def confidences(self, nodes: list[Node], kind: str, element: str) -> list[float]:
        return self.evaluate([self.content(n, kind, element) for n in nodes])

    def priority_inputs(self, nodes: list[Node], target: str) -> list[tuple[float, float]]:
        """(existence, latent) of each node, both prompts of all nodes in one batch."""
        values = self.evaluate([self.content(n, kind, target) for n in nodes for kind in ("existence", "latent")])
        return [(values[2 * i], values[2 * i + 1]) for i in range(len(nodes))]

    def filter_targets(self, objects: list[str], type2: set) -> list[str]:
        """Global-local models with several targets: a (type-1) target whose decomposed question the root already
        answers (confidence ≥ upper, root at the base resolution) is dropped (zoom_model.py `filter_visual_cues`)."""
        root = Node((0, 0, *self.image.size), 0)
        asked = [o for o in objects if o not in type2]
        values = self.evaluate([self.content(root, "answering", self.m.decomposed_question.format(o), False)
                                for o in asked])
        answered = {o for o, v in zip(asked, values) if v >= self.m.upper}
        return [o for o in objects if o not in answered]

    def node_record(self, node: Node, target: str) -> dict:
        """A visited node for `rois` (recall, pictures): `box` is the crop the model saw; `confidence` is its
        existence confidence (None for the root, which shows the whole image and would make recall trivial)."""
        return {"target": target, "box": list(patch_box(node.box, self.image.size, self.patch_size,
                                                        self.m.patch_scale)),
                "node_box": list(node.xyxy), "depth": node.depth,
                "confidence": None if node.is_root else node.existence, "latent": node.latent,
                "priority": node.priority, "answering": node.answering, "popped": node.popped}


_RGB = {"red": (255, 0, 0), "blue": (0, 0, 255)}


def _processor_mean_colour(adapter) -> tuple[int, int, int]:
    """ZoomEye pads with the image processor's mean colour (zoom_model.py `background_color`)."""
    mean = getattr(getattr(getattr(adapter, "processor", None), "image_processor", None), "image_mean", None)
    if mean is None:
        return (127, 127, 127)
    return tuple(int(x * 255) for x in mean)
