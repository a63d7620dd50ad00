"""dataset=demo_scenes: deterministic scenes, V*-format questions whose labels match the drawn objects."""

import numpy as np
import pytest

from focus.data.demo_scenes import (COLOURS, OBJECT_SIZE, SHAPES, TRAINING_SEEDS_FROM, DemoScenes, make_question,
                                    make_scene, scene_layout)


def test_scene_is_a_pure_function_of_split_and_index():
    a, objs_a = make_scene(3, 7)
    b, objs_b = make_scene(3, 7)
    c, _ = make_scene(3, 8)
    assert objs_a == objs_b and np.array_equal(np.asarray(a), np.asarray(b))
    assert not np.array_equal(np.asarray(a.resize((64, 64))), np.asarray(c.resize((64, 64))))
    assert scene_layout(3, 7) == (a.size, objs_a)  # the cheap layout agrees with the drawn scene


@pytest.mark.parametrize("index", range(12))
def test_objects_are_small_distinct_and_drawn_where_their_box_says(index):
    image, objects = make_scene(0, index)
    w, h = image.size
    assert 768 <= max(w, h) <= 1536 and 4 <= len(objects) <= 6
    assert len({o.colour for o in objects}) == len(objects)  # "the red object" names one object
    pixels = np.asarray(image)
    for o in objects:
        side = o.box[2] - o.box[0]
        assert o.box[3] - o.box[1] == side
        assert OBJECT_SIZE[0] - 0.002 <= side / max(w, h) <= OBJECT_SIZE[1] + 0.002
        assert side * 96 / max(w, h) < 5  # a few pixels in the model's 96-px global view: the shape is lost there
        cx, cy = (o.box[0] + o.box[2]) // 2, (o.box[1] + o.box[3]) // 2
        probe = (cx, (o.box[1] + 3 * o.box[3]) // 4) if o.shape == "triangle" else (cx, cy)  # inside every shape
        assert tuple(pixels[probe[1], probe[0]]) == COLOURS[o.colour], (o, probe)
        outside = (o.box[0] - 2, o.box[1] - 2)  # just outside the box: background or clutter, never this colour
        assert tuple(pixels[outside[1], outside[0]]) != COLOURS[o.colour]
    for a in objects:  # objects keep clear of each other
        for b in objects:
            if a is not b:
                assert a.box[2] <= b.box[0] or b.box[2] <= a.box[0] or a.box[3] <= b.box[1] or b.box[3] <= a.box[1]


def test_labels_match_the_scene():
    seen = set()
    for sample in DemoScenes(seed=0, limit=60):
        _, objects = make_scene(0, int(sample.id.rsplit("-", 1)[1]))
        by_name = {o.name: o for o in objects}
        answer = sample.options["ABCD".index(sample.label)]
        targets = [by_name[t] for t in sample.gt_targets]
        assert [list(t.box) for t in targets] == sample.gt_boxes
        if sample.category == "attribute":
            assert sorted(sample.options) == sorted(SHAPES) and answer == targets[0].shape
            assert sample.question == f"What is the shape of the {targets[0].name}?"
        else:
            a, b = targets
            assert sorted(sample.options) == ["left", "right"]
            assert answer == ("left" if a.center[0] < b.center[0] else "right")
            assert abs(a.center[0] - b.center[0]) >= 4 * (a.box[2] - a.box[0])  # unambiguous
        assert sample.prompt.splitlines()[1:len(sample.options) + 1] == [
            f"({'ABCD'[i]}) {o}" for i, o in enumerate(sample.options)]
        seen.add((sample.category, sample.label))
    assert {c for c, _ in seen} == {"attribute", "spatial"}
    assert len({lab for c, lab in seen if c == "attribute"}) == 4  # shuffled options: every letter is an answer


def test_questions_do_not_change_the_image():
    _, objects = make_scene(5, 2)
    q1 = make_question(5, 2, objects, attribute_fraction=1.0)
    q2 = make_question(5, 2, objects, attribute_fraction=1.0)
    assert q1 == q2 and q1.category == "attribute"


def test_training_splits_are_refused_and_limit_counts_scenes():
    with pytest.raises(ValueError, match="training data"):
        DemoScenes(seed=TRAINING_SEEDS_FROM)
    samples = list(DemoScenes(seed=4, limit=5))
    assert [s.id for s in samples] == [f"demo-4-{i}" for i in range(5)]
    assert samples[0].load_image().size == make_scene(4, 0)[0].size
