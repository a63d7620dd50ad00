"""ZoomEye: the tree, the weight, crops and merges on hand-made inputs; the searches and the method with scripted
confidences, down to the exact forward passes (hand-computed in the comments).

Test image: 1200×700, encoder input 336 (LLaVA-1.5) or 384 (OneVision). The tree: root (0,0,1200,700) → 2×2
children of 600×350 → 2×2 grandchildren of 300×175 (leaves: 300 < 336). Children in row-major order:
c0 (0,0), c1 (600,0), c2 (0,350), c3 (600,350); grandchildren g<child><k>, e.g. g12 = (600,175,300,175).
"""

import pytest
import torch

from focus.data.base import Sample, build_prompt
from focus.stages.inference import FinalInference
from focus.stages.targets import TargetExtractor
from focus.methods.zoomeye import (ANSWER_PREAMBLE, ZoomEye, build_tree, confidence_weight, merge_near_boxes, patch_box,
                           side_by_side, split_counts, sub_boxes, type1_search, type2_search)
from scripted import ScriptedAdapter, coded_image, crop_box, decode

W, H = 1200, 700
C = {0: (0, 0, 600, 350), 1: (600, 0, 600, 350), 2: (0, 350, 600, 350), 3: (600, 350, 600, 350)}


def g(child: int, k: int) -> tuple:
    x, y = C[child][0] + 300 * (k % 2), C[child][1] + 175 * (k // 2)
    return (x, y, 300, 175)


# ------------------------------------------------------------------------------------------------- pure pieces
def test_split_counts_follow_the_aspect_ratio():
    assert split_counts(1000, 700, 4) == (2, 2)
    assert split_counts(1000, 500, 4) == (4, 1)   # h/w = 0.5: wide → 4 columns, 1 row
    assert split_counts(500, 1000, 4) == (1, 4)   # h/w = 2: tall → 1 column, 4 rows
    assert split_counts(1000, 501, 4) == (2, 2)
    assert split_counts(900, 900, 9) == (3, 3) and split_counts(300, 900, 16) == (2, 8)
    assert split_counts(1000, 700, 2) == (2, 1) and split_counts(700, 1000, 2) == (1, 2)
    with pytest.raises(ValueError):
        split_counts(10, 10, 3)


def test_sub_boxes_row_major_with_the_remainder_last():
    assert sub_boxes((0, 0, 1001, 700), 2, 2) == [(0, 0, 500, 350), (500, 0, 501, 350), (0, 350, 500, 350),
                                                   (500, 350, 501, 350)]
    assert sub_boxes((10, 20, 100, 403), 1, 4) == [(10, 20, 100, 100), (10, 120, 100, 100), (10, 220, 100, 100),
                                                   (10, 320, 100, 103)]


def test_tree_depth_and_leaves():
    root, depth = build_tree(W, H, 336, 4, 5)
    assert depth == 2 and [c.box for c in root.children] == list(C.values())
    assert [n.box for n in root.children[1].children] == [g(1, k) for k in range(4)]
    assert sum(1 for _ in root.walk()) == 21
    assert build_tree(W, H, 336, 4, 1)[1] == 1 and sum(1 for _ in build_tree(W, H, 336, 4, 1)[0].walk()) == 5
    # a 336-px side is NOT below the input size (strict <): 672×336 → 4×1 of 168×336 → 1×4 of 168×84
    root, depth = build_tree(672, 336, 336, 4, 5)
    assert depth == 2 and root.children[0].box == (0, 0, 168, 336) and root.children[0].children[1].box == (0, 84, 168, 84)


def test_confidence_weight():
    assert confidence_weight(0, 2, 0.2) == pytest.approx(0.2)
    assert confidence_weight(1, 2, 0.2) == pytest.approx(0.4)   # (1 − 0.2)/2²·1² + 0.2
    assert confidence_weight(2, 2, 0.2) == pytest.approx(1.0)
    assert confidence_weight(1, 5, 0.6) == pytest.approx(0.616)


def test_patch_box():
    assert patch_box(C[1], (W, H), 336, None) == (600, 0, 1200, 350)        # bigger than the input: itself
    assert patch_box(g(1, 2), (W, H), 336, None) == (582, 94, 918, 430)     # 336² around (750, 262)
    assert patch_box(g(0, 0), (W, H), 336, None) == (0, 0, 336, 336)        # clipped at 0, not shifted
    assert patch_box(g(3, 3), (W, H), 336, None) == (882, 444, 1200, 700)   # clipped at the far edges
    assert patch_box(C[1], (W, H), 384, 1.2) == (540, 0, 1200, 460)         # 720 × int(384·1.2)=460


def test_merge_near_boxes_buffer():
    assert merge_near_boxes([(0, 0, 100, 100), (190, 0, 300, 100)], 50) == [(0, 0, 300, 100)]  # 90 px apart
    assert len(merge_near_boxes([(0, 0, 100, 100), (200, 0, 300, 100)], 50)) == 2             # 100 px: not
    chain = merge_near_boxes([(0, 0, 336, 336), (600, 0, 1200, 350), (282, 444, 618, 700)], 50)
    assert chain == [(0, 0, 1200, 700)]  # B and C are 94 px apart; their union then reaches A


def test_side_by_side_canvas():
    image = coded_image(W, H)
    canvas = side_by_side(image, (882, 444, 1200, 700), (0, 0, 336, 336), 336, (7, 7, 7))
    assert canvas.size == (672, 672)
    # the left block is the leftmost box; the centres' offset 572 − 168 is clipped to 336 → y 0 and 336
    assert decode(canvas.getpixel((5, 5))) == (5, 5) and decode(canvas.getpixel((335, 335))) == (335, 335)
    assert canvas.getpixel((100, 500)) == (7, 7, 7) and canvas.getpixel((500, 100)) == (7, 7, 7)


# ------------------------------------------------------------------------------------------------- searches
def scripted(values: dict, default):
    return lambda node: values.get(node.box, default)


def run_type1(answer: dict, scores: dict, answer_default=0.0, **kw):
    root, depth = build_tree(W, H, 336, 4, 5)
    asked, batches = [], []

    def answering(node):
        asked.append(node.box)
        return answer.get(node.box, answer_default)

    def score(nodes):
        batches.append([n.box for n in nodes])
        return [scores.get(n.box, (0.0, 0.0)) for n in nodes]

    args = dict(bias=0.2, upper=0.6, lower=0.0, decrease=[0.1, 0.1, 0.2], pop_limit=3 * depth)
    args.update(kw)
    result = type1_search(root, depth, answering, score, **args)
    return result, asked, batches


SCORES_A = {C[0]: (0.1, 0.1), C[1]: (0.9, 0.5), C[2]: (-0.5, 0.8), C[3]: (0.0, 0.0),
            g(1, 0): (0.3, 0.9), g(1, 1): (0.2, 0.0), g(1, 2): (0.95, -0.9), g(1, 3): (0.1, 0.0)}


def test_type1_best_first_order_and_stop():
    """Priorities at depth 1 (w = 0.4): c0 0.1, c1 0.66, c2 0.28, c3 0; at depth 2 (w = 1): the existence alone,
    so g12 (0.95) beats g10 (0.3) although g10's latent is high. Pops: root, c1, g12 (answering 0.7 ≥ 0.6)."""
    result, asked, batches = run_type1({(0, 0, W, H): 0.0, C[1]: 0.2, g(1, 2): 0.7}, SCORES_A)
    assert asked == [(0, 0, W, H), C[1], g(1, 2)]
    assert batches == [list(C.values()), [g(1, k) for k in range(4)]]
    assert [n.box for n in result.candidates] == [g(1, 2)]
    assert (result.num_pop, result.num_zoom_in, result.num_zoom_out) == (3, 2, 0)
    assert [round(n.priority, 6) for n in result.scored[:4]] == [0.1, 0.66, 0.28, 0.0]
    # fp = 3 answering + 2 × 8 queued = 19


def test_type1_threshold_decrease_schedule():
    """Children first (priorities 0.9 > 0.8 > 0.7 > 0.6, grandchildren 0), every answering 0.1 but c2's 0.25.
    pop 6 → threshold 0.5 (limit 8), pop 8 → 0.4 (limit 10), pop 10 → 0.2 (the last step, 0.2, repeats):
    c2 (0.25) qualifies → chosen after 10 pops."""
    scores = {C[i]: (v, v) for i, v in enumerate((0.9, 0.8, 0.7, 0.6))}
    result, asked, _ = run_type1({C[2]: 0.25}, scores, answer_default=0.1)
    assert result.num_pop == 10 and len(asked) == 10
    assert [n.box for n in result.candidates] == [C[2]] and result.threshold == pytest.approx(0.2)
    assert asked[:5] == [(0, 0, W, H), C[0], C[1], C[2], C[3]]
    # fp = 10 answering + 2 × 20 queued = 50


def test_type1_gives_up_below_the_lower_threshold():
    """All answering −0.3: thresholds 0.5, 0.4, 0.2, 0.0 (still ≥ lower = 0, nothing qualifies), then −0.2 at
    pop 14 < lower → no candidate. As in the original, the popped nodes are checked against the lowered threshold
    BEFORE the lower bound: with answering −0.1 the best of them (the first popped, the root) is taken at −0.2."""
    scores = {C[i]: (v, v) for i, v in enumerate((0.9, 0.8, 0.7, 0.6))}
    result, asked, _ = run_type1({}, scores, answer_default=-0.3)
    assert result.candidates == [] and result.num_pop == 14 and result.threshold == pytest.approx(-0.2)
    result, _, _ = run_type1({}, scores, answer_default=-0.1)
    assert [n.box for n in result.candidates] == [(0, 0, W, H)] and result.num_pop == 14


def test_type1_multi_target_skips_the_root_and_visits_the_bottom():
    """ZoomEye's local multi-target search: the root's answering is not asked; a stop at depth 1 (c1, 0.7) keeps
    searching until a leaf is popped (g12), then ends with the candidates found."""
    result, asked, _ = run_type1({C[1]: 0.7, g(1, 2): 0.3}, SCORES_A, force_no_root=True, force_visit_bottom=True)
    assert asked == [C[1], g(1, 2)] and [n.box for n in result.candidates] == [C[1]] and result.num_pop == 3
    result, _, _ = run_type1({C[1]: 0.7, g(1, 2): 0.8}, SCORES_A, force_no_root=True, force_visit_bottom=True)
    assert [n.box for n in result.candidates] == [C[1], g(1, 2)]  # the method answers on the deepest


def test_type2_post_order_selection():
    """Kept: a node whose existence is ≥ max(the best below it, 0.6): g00 (0.8), c1 (0.65 over children ≤ 0.3),
    g22 (0.62); not c0 (0.7 < g00's 0.8), not the root (0.5)."""
    root, _ = build_tree(W, H, 336, 4, 5)
    values = {(0, 0, W, H): 0.5, C[0]: 0.7, g(0, 0): 0.8, C[1]: 0.65, g(1, 0): 0.3, C[2]: 0.3, g(2, 2): 0.62}
    batches = []

    def existence(nodes):
        batches.append(len(nodes))
        return [values.get(n.box, 0.1) for n in nodes]

    kept, evaluated = type2_search(root, 2, 0.6, existence)
    assert [n.box for n in kept] == [g(0, 0), C[1], g(2, 2)] and len(evaluated) == 21 and batches == [21]
    root, _ = build_tree(W, H, 336, 4, 5)
    kept, evaluated = type2_search(root, 1, 0.6, existence)
    assert [n.box for n in kept] == [C[0], C[1]] and len(evaluated) == 5  # depth ≤ 1: c0 now has no child above it


# ------------------------------------------------------------------------------------- the method, scripted
def sample(question="What is the color of the cup?"):
    options = ["red", "blue"]
    return Sample(id="s", question=question, options=options, label="A", category="attribute",
                  prompt=build_prompt(question, options, "Answer with the option's letter."))


def zoomeye(**kw):
    args = dict(bias_value=0.2, upper=0.6, lower=0.0, decrease=[0.1, 0.1, 0.2], visual_cue_threshold=0.6,
                patch_scale=None, main_view="square", pad_color=(7, 7, 7))
    args.update(kw)
    return ZoomEye(TargetExtractor(), FinalInference(), **args)


def objects(answer):
    return f"So I need the information about the following objects: {answer}."


# the crops a local model sees (patch_box of the nodes above)
CROP = {(0, 0, W, H): "root", (0, 0, 600, 350): "c0", (600, 0, 1200, 350): "c1", (0, 350, 600, 700): "c2",
        (600, 350, 1200, 700): "c3", (582, 0, 918, 336): "g10", (882, 0, 1200, 336): "g11",
        (582, 94, 918, 430): "g12", (882, 94, 1200, 430): "g13", (0, 0, 336, 336): "g00",
        (882, 444, 1200, 700): "g33", (0, 444, 336, 700): "g22"}


def test_local_single_target_fp_and_chosen_crop():
    """Scenario of test_type1_best_first_order_and_stop through the method and a scripted LLaVA-1.5-like model:
    fp = 3 answering + 2·8 = 19, fp_extract = 1, fp_answer = 1; calls = 1 extraction + 3 answering + 2 batched
    scorings + 1 answer = 7; the answer is on g12's 336² crop."""
    answering = {"root": 0.0, "c1": 0.2, "g12": 0.7}
    scores = {"c0": (0.1, 0.1), "c1": (0.9, 0.5), "c2": (-0.5, 0.8), "c3": (0.0, 0.0), "g10": (0.3, 0.9),
              "g11": (0.2, 0.0), "g12": (0.95, -0.9), "g13": (0.1, 0.0)}

    def confidence(kind, images, text):
        node = CROP[crop_box(images[0])]
        if kind == "answering":
            return answering.get(node, 0.0)
        return scores[node][0 if kind == "existence" else 1]

    adapter = ScriptedAdapter(confidence, objects("cup"))
    rec = zoomeye()(adapter, sample(), coded_image(W, H))
    assert (rec["fp"], rec["fp_extract"], rec["fp_answer"], adapter.calls) == (19, 1, 1, 7)
    assert (rec["num_pop"], rec["num_zoom_in"], rec["num_zoom_out"]) == (3, 2, 0)
    assert rec["chosen_boxes"] == [[582, 94, 918, 430]] and rec["final_mode"] == "crop"
    (images, text), = adapter.answered
    assert crop_box(images[0]) == (582, 94, 918, 430) and text == sample().prompt
    texts = {kind: t for kind, _, t, _ in adapter.asked}
    assert texts["existence"] == "Is there a cup in the image? Answer Yes or No."
    assert texts["answering"] == ("Question: What is the color of the cup?\nCould you answer the question based on "
                                  "the the available visual information? Answer Yes or No.")
    assert texts["latent"].startswith("According to your common sense knowledge and the content of the image, is it "
                                      "possible to find a cup in the image?")
    visited = rec["rois"]["cup"]
    assert len(visited) == 9 and [r["confidence"] for r in visited if r["depth"] == 0] == [None]
    assert {tuple(r["box"]) for r in visited if r["popped"]} == {(0, 0, W, H), (600, 0, 1200, 350),
                                                                  (582, 94, 918, 430)}


def test_local_two_targets_decomposed_questions_and_side_by_side():
    """Two targets: each searched with "What is the appearance of the {}?", no answering on the root, visiting
    the bottom: cup → c0, g00 (stop at 0.8, a leaf); plate → c3, g33. fp = 2 × (2 answering + 2·8) = 36.
    The crops (0,0,336,336) and (882,444,1200,700) span 1200 px > 1000 → side by side on 672²."""
    def confidence(kind, images, text):
        node = CROP.get(crop_box(images[0]))
        if kind == "answering":
            assert node != "root"
            return {("cup", "g00"): 0.8, ("plate", "g33"): 0.8}.get(("cup" if "cup" in text else "plate", node), 0.1)
        want = {"cup": ("c0", "g00"), "plate": ("c3", "g33")}["cup" if "cup" in text else "plate"]
        return 0.9 if node in want else -0.5

    adapter = ScriptedAdapter(confidence, objects("cup and plate"))
    rec = zoomeye()(adapter, sample("Is the cup on the left or right side of the plate?"), coded_image(W, H))
    assert rec["targets"] == ["cup", "plate"] and rec["fp"] == 36
    assert {k: v["num_pop"] for k, v in rec["search"].items()} == {"cup": 3, "plate": 3} and rec["num_pop"] == 6
    answering_texts = {t.split("\n")[0] for kind, _, t, _ in adapter.asked if kind == "answering"}
    assert answering_texts == {"Question: What is the appearance of the cup?",
                               "Question: What is the appearance of the plate?"}
    assert rec["final_mode"] == "side_by_side" and rec["chosen_boxes"] == [[0, 0, 336, 336], [882, 444, 1200, 700]]
    assert adapter.answered[0][0][0].size == (672, 672)


def test_local_type2_existence_only():
    """"all cups" → type-2 search for "cup" (one trailing s dropped): 21 existence prompts (one per node to depth
    2), in 3 batches of ≤ 8; kept g00, c1, g22; the three crops do not merge, so the answer is their union."""
    values = {"root": 0.5, "c0": 0.7, "g00": 0.8, "c1": 0.65, "g22": 0.62}

    def confidence(kind, images, text):
        assert kind == "existence" and text == "Is there a cup in the image? Answer Yes or No."
        return values.get(CROP.get(crop_box(images[0])), 0.1)

    adapter = ScriptedAdapter(confidence, objects("all cups"))
    rec = zoomeye()(adapter, sample("How many cups are there?"), coded_image(W, H))
    assert rec["type2"] and rec["fp"] == 21 and adapter.calls == 1 + 3 + 1
    assert rec["search"]["cups"]["kept"] == [[0, 0, 300, 175], [600, 0, 1200, 350], [0, 525, 300, 700]]
    assert rec["final_mode"] == "crop" and rec["chosen_boxes"] == [[0, 0, W, H]]


def zoom_node(images) -> str:
    """A global-local view's node, from the decoded centre pixel of its zoomed view (the border is drawn)."""
    if len(images) == 1:
        return "root"
    x, y = decode(images[1].getpixel((images[1].width // 2, images[1].height // 2)))
    return f"c{(x >= 600) + 2 * (y >= 350)}"


def test_global_local_views_prompts_and_fp():
    """OneVision-like (two images per prompt, b = 0.6, patch scale 1.2, input 384): the root answers on the whole
    image; each child is shown as [main image 384² with the red box, zoomed view] with ZoomEye's zoom prompts.
    c1's crop (540,0,1200,460) is drawn on the 1200² square (image at y + 250), grown by 1200 // 120 = 10 px:
    the zoomed view is (530,240)-(1200,720), 670×480. fp = 1 + 2·4 + 1 = 10."""
    def confidence(kind, images, text):
        node = zoom_node(images)
        if kind == "answering":
            return 0.9 if node == "c1" else 0.0
        return 0.8 if node == "c1" else 0.1

    adapter = ScriptedAdapter(confidence, objects("cup"), multi_image=True, base_resolution=384)
    rec = zoomeye(bias_value=0.6, patch_scale=1.2)(adapter, sample(), coded_image(W, H))
    assert rec["fp"] == 10 and rec["final_mode"] == "zoom_multi_image" and rec["chosen_boxes"] == [[540, 0, 1200, 460]]
    root_kind, root_images, _, _ = adapter.asked[0]
    assert root_kind == "answering" and root_images[0].size == (W, H)
    kind, (main, zoomed), _, content = next(a for a in adapter.asked if a[0] == "existence" and zoom_node(a[1]) == "c1")
    assert main.size == (384, 384) and zoomed.size == (670, 480)
    assert zoomed.getpixel((5, 100)) == (255, 0, 0) and decode(zoomed.getpixel((15, 100))) == (545, 90)
    assert content[1] == "This is the main image, and the section enclosed by the red rectangle is the focus region.\n"
    assert content[3] == "This is the zoomed-in view of the focus region.\nIs there a cup in the zoomed-in view? Answer Yes or No."
    (answer_images, answer_text), = adapter.answered
    assert [im.size for im in answer_images] == [(384, 384), (670, 480)]
    assert answer_text == ANSWER_PREAMBLE.format(color="red") + sample().prompt


def test_global_local_blue_box_when_the_question_mentions_a_red_rectangle():
    adapter = ScriptedAdapter(lambda kind, images, text: 0.9 if zoom_node(images) == "c1" else 0.0,
                              objects("cup"), multi_image=True, base_resolution=384)
    zoomeye(bias_value=0.6, patch_scale=1.2)(adapter, sample("What is in the red rectangle?"), coded_image(W, H))
    _, (_, zoomed), _, content = next(a for a in adapter.asked if len(a[1]) == 2)
    assert "blue rectangle" in content[1] and zoomed.getpixel((5, 100)) == (0, 0, 255)


def test_global_local_target_filter_answers_on_the_whole_image():
    """Two targets on a global-local model: the root (square, resized to 384²) is asked each decomposed question;
    "cup" is already answerable (0.9 ≥ 0.6), so ZoomEye drops the search and answers on the whole image: fp = 2."""
    def confidence(kind, images, text):
        assert kind == "answering" and images[0].size == (384, 384)
        return 0.9 if "cup" in text else 0.1

    adapter = ScriptedAdapter(confidence, objects("cup and plate"), multi_image=True, base_resolution=384)
    rec = zoomeye(bias_value=0.6, patch_scale=1.2)(adapter, sample("Is the cup left of the plate?"), coded_image(W, H))
    assert rec["fp"] == 2 and rec["final_mode"] == "whole_image" and rec["chosen_boxes"] == []
    assert rec["targets_answerable_on_root"] == ["cup"] and adapter.answered[0][0][0].size == (W, H)


def test_bad_settings_fail_at_construction():
    for kw in ({"view": "both"}, {"main_view": "round"}, {"split_num": 3}, {"depth_limit": 0}):
        with pytest.raises(ValueError):
            zoomeye(**kw)


# ------------------------------------------------------------------------------- the adapter (tiny models)
@pytest.mark.parametrize("family", ["llava15", "llava_ov", "qwen25vl"])
def test_interleaved_yes_no_logits(adapter_factory, family):
    """One image then text = the existing one-image prompt; a batch of interleaved two-image prompts (left padded,
    different lengths) = each prompt alone; swapping the two images changes the answer (the order is kept)."""
    adapter = adapter_factory(family)
    a, b = coded_image(200, 150), coded_image(150, 250).rotate(90, expand=True)
    question = "Is there a cup in the zoomed-in view? Answer Yes or No."
    single = adapter.yes_no_logits_interleaved([[a, "Is there a cup in the image? Answer Yes or No."]])
    assert torch.allclose(single, adapter.yes_no_logits([a], ["Is there a cup in the image? Answer Yes or No."]),
                          atol=1e-5)
    first = [a, "This is the main image.\n", b, "This is the zoomed-in view of the focus region.\n" + question]
    second = [b, "This is the main image, and the section enclosed by the red rectangle is the focus region.\n", a,
              question]
    calls = adapter.calls
    both = adapter.yes_no_logits_interleaved([first, second])
    assert adapter.calls == calls + 1 and both.shape == (2, 2)
    alone = torch.cat([adapter.yes_no_logits_interleaved([first]), adapter.yes_no_logits_interleaved([second])])
    assert torch.allclose(both, alone, atol=1e-4)
    swapped = adapter.yes_no_logits_interleaved([[b, first[1], a, first[3]]])
    assert not torch.allclose(swapped, alone[:1], atol=1e-6)
