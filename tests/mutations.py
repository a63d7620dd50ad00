"""One-line bugs the test suite must catch, and a runner that checks it does (the mutation check).

Each `Mutation` names a file, one line of it exactly as written, the line with the bug, and the tests that must
fail. The runner copies the repository (focus/, tests/, conf/, experiments/, benchmarks/, pyproject.toml) into a temporary
folder, makes the change there — never in the working tree —, runs those tests with `python -m pytest -x` from the
copy (so the copy's `focus` is imported), and reports the test that failed (KILLED) or SURVIVED. Not part of the
default test run (minutes); `tests/test_mutation_list.py` checks, in the default run, that every original line is
still in its file, so the list cannot rot silently.

    python tests/mutations.py                 # all mutations
    python tests/mutations.py --list          # names only
    python tests/mutations.py --only values_read_as_keys yes_no_swapped
    python tests/mutations.py --only map_transposed --tests tests/test_demo_model.py   # another test set

Exit status 1 when a mutation survives.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
COPIED = ("focus", "tests", "conf", "experiments", "benchmarks", "pyproject.toml")


@dataclass(frozen=True)
class Mutation:
    name: str
    file: str  # relative to the repository root
    original: str  # one full line, exactly as in the file (without the newline)
    mutated: str
    tests: tuple[str, ...]  # pytest arguments: files, node ids, or "-k" expressions
    what: str = ""


MUTATIONS = [
    # --- the review's table (features, map layout, token positions, yes/no, OneVision geometry, smoothing,
    # type-2 threshold, ROI order, type-2 detection)
    Mutation("values_read_as_keys", "focus/models/base.py",
             "            feats = [layer.values[row, :, :length] for layer in computed]  # [kv_heads, N, head_dim]",
             "            feats = [layer.keys[row, :, :length] for layer in computed]  # [kv_heads, N, head_dim]",
             ("tests/test_adapter_contract.py",), "relevance uses the cached keys although features=values"),
    Mutation("map_transposed", "focus/stages/relevance.py",
             "        return self._to_map(rel.reshape(fpass.layout.rows, fpass.layout.cols), fpass.layout, adapter)",
             "        return self._to_map(rel.reshape(fpass.layout.cols, fpass.layout.rows).T, fpass.layout, adapter)",
             ("tests/test_relevance.py", "tests/test_pipeline_scripted.py"),
             "map reshaped transposed (rows/cols swapped) for non-square grids"),
    Mutation("llava15_positions_shifted", "focus/models/llava15.py",
             "        positions = image_token_positions(input_ids, self.image_token_id)",
             "        positions = image_token_positions(input_ids, self.image_token_id) + 1",
             ("tests/test_pixel_geometry.py", "-k", "llava15"), "LLaVA-1.5 visual token positions shifted by one"),
    Mutation("target_positions_shifted", "focus/models/base.py",
             "        positions = [i for i, (s, e) in enumerate(enc[\"offset_mapping\"]) if e > s and s < end and e > start]",
             "        positions = [i + 1 for i, (s, e) in enumerate(enc[\"offset_mapping\"]) if e > s and s < end and e > start]",
             ("tests/test_adapter_contract.py",), "target token positions shifted by one"),
    Mutation("yes_no_swapped", "focus/models/base.py",
             "        return logits[:, [self.yes_id, self.no_id]].float().cpu()",
             "        return logits[:, [self.no_id, self.yes_id]].float().cpu()",
             ("tests/test_adapter_contract.py",), "Yes/No logits swapped by the adapter"),
    Mutation("onevision_wide_cell_from_padded_height", "focus/models/llava_ov.py",
             "        px = width / cur_w  # original pixels per patch",
             "        px = height / cur_h  # original pixels per patch",
             ("tests/test_pixel_geometry.py", "-k", "llava_ov"),
             "OneVision, wide images: pixels per cell computed from the padded height"),
    Mutation("local_smoothing_skipped", "focus/stages/relevance.py",
             "        if adapter.local_grid and (self.local_sigma or self.local_downsample > 1):",
             "        if False and adapter.local_grid and (self.local_sigma or self.local_downsample > 1):",
             ("tests/test_relevance.py",), "Gaussian smoothing + downsampling skipped for global-local models"),
    Mutation("type2_threshold_inverted", "focus/methods/focus.py",
             "                               and r.confidence > self.inference_scheme.t_type2]",
             "                               and r.confidence < self.inference_scheme.t_type2]",
             ("tests/test_pipeline_scripted.py",), "type-2 threshold comparison inverted"),
    Mutation("worst_roi_answered", "focus/methods/focus.py",
             "                    best.append(ranked[0])",
             "                    best.append(ranked[-1])",
             ("tests/test_pipeline_scripted.py",), "the worst-ranked ROI used for the final answer"),
    Mutation("never_type2", "focus/stages/targets.py",
             "        return Targets(objects, type2_targets(question, objects, marked), source, raw)",
             "        return Targets(objects, [], source, raw)",
             ("tests/test_targets_scoring.py", "tests/test_pipeline_scripted.py"),
             "questions never classified type-2"),
    # --- the centre-crop processor case
    Mutation("llava15_processor_as_loaded", "focus/models/llava15.py",
             "        self.processor.image_processor = llava15_image_processor(loaded, vision.image_size, bool(pad_to_square))",
             "        loaded.do_pad = bool(pad_to_square)",
             ("tests/test_processors.py",),
             "do_pad set on the checkpoint's processor (a CLIPImageProcessor centre-crops instead)"),
    # --- more geometry and method bugs of the same kind
    Mutation("llava15_padding_ignored", "focus/models/llava15.py",
             "            x0, y0 = -((side - w) // 2), -((side - h) // 2)  # same integer split as the processor's pad_to_square",
             "            x0, y0 = 0, 0",
             ("tests/test_pixel_geometry.py", "-k", "llava15"), "LLaVA-1.5 layout forgets the padding offset"),
    Mutation("qwen_layout_transposed", "focus/models/qwen25vl.py",
             "        return GridLayout(rh // self.factor, rw // self.factor, (0.0, 0.0, float(w), float(h)), (w, h))",
             "        return GridLayout(rw // self.factor, rh // self.factor, (0.0, 0.0, float(w), float(h)), (w, h))",
             ("tests/test_pixel_geometry.py", "-k", "qwen25vl"), "Qwen2.5-VL grid rows/cols swapped"),
    Mutation("onevision_newline_first", "focus/models/llava_ov.py",
             "        local = positions[self.base_tokens:].reshape(layout.rows, layout.cols + 1)[:, :layout.cols]",
             "        local = positions[self.base_tokens:].reshape(layout.rows, layout.cols + 1)[:, 1:]",
             ("tests/test_pixel_geometry.py", "-k", "llava_ov"), "OneVision newline token taken as a row's first"),
    Mutation("broadcast_normalization_ignored", "focus/stages/relevance.py",
             "        if normalization == \"row\":",
             "        if True:",
             ("tests/test_relevance.py",), "relevance.normalization=broadcast computes the row reading"),
    Mutation("processor_not_aligned", "focus/models/processors.py",
             "    if current is not None and _plain(current) == _plain(model_value):",
             "    if True:",
             ("tests/test_processors.py",), "a processor that disagrees with the model config is kept"),
    Mutation("type2_substring_match", "focus/stages/targets.py",
             "    r\"\\b(?:how\\s+many|number\\s+of(?!\\s+(?:the|this|that)\\b)|count(?:\\s+of)?(?:\\s+the)?)\\b\\s*\"",
             "    r\"(?:how\\s+many|number\\s+of(?!\\s+(?:the|this|that)\\b)|count(?:\\s+of)?(?:\\s+the)?)\\s*\"",
             ("tests/test_targets_scoring.py",), "type-2 keywords matched inside words (country, counter)"),
    Mutation("type2_fallback_silent", "focus/methods/focus.py",
             "                composed[\"mode\"] = composed[\"mode\"].replace(\"type1_\", \"type2_fallback_\", 1)",
             "                pass",
             ("tests/test_pipeline_scripted.py",), "type-2 → type-1 fallback not recorded in final_mode"),
    # --- the baselines: ZoomEye's tree and search, ViCrop's maps, boxes and blocks, the last-row attention
    Mutation("zoomeye_weight_linear_in_depth", "focus/methods/zoomeye.py",
             "    return (1.0 - bias) / max_depth ** 2 * depth ** 2 + bias",
             "    return (1.0 - bias) / max_depth ** 2 * depth + bias",
             ("tests/test_zoomeye.py",), "priority weight w grows with depth instead of depth²"),
    Mutation("zoomeye_decrease_not_advanced", "focus/methods/zoomeye.py",
             "            if len(decrease) > 1:", "            if False:",
             ("tests/test_zoomeye.py",), "the threshold always drops by the first step (0.1) instead of 0.1, 0.1, 0.2"),
    Mutation("zoomeye_queue_ascending", "focus/methods/zoomeye.py",
             "        queue.sort(key=lambda n: n.priority, reverse=True)",
             "        queue.sort(key=lambda n: n.priority)",
             ("tests/test_zoomeye.py",), "best-first search pops the lowest priority"),
    Mutation("zoomeye_root_always_answered", "focus/methods/zoomeye.py",
             "        if not (force_no_root and node.is_root):", "        if True:",
             ("tests/test_zoomeye.py",), "the multi-target local search asks the root's answering confidence"),
    Mutation("zoomeye_type2_ignores_subtree", "focus/methods/zoomeye.py",
             "        if node.existence >= max(best_below, threshold):", "        if node.existence >= threshold:",
             ("tests/test_zoomeye.py",), "type-2 keeps a node although a node below it is more confident"),
    Mutation("zoomeye_split_axes_swapped", "focus/methods/zoomeye.py",
             "    return tall if ratio >= 2 else wide if ratio <= 0.5 else square",
             "    return wide if ratio >= 2 else tall if ratio <= 0.5 else square",
             ("tests/test_zoomeye.py",), "tall nodes split into columns, wide ones into rows"),
    Mutation("zoomeye_patch_centre_swapped", "focus/methods/zoomeye.py",
             "    cx, cy = int(x + w / 2), int(y + h / 2)", "    cx, cy = int(x + h / 2), int(y + w / 2)",
             ("tests/test_zoomeye.py",), "a node's crop centred with width and height swapped"),
    Mutation("vicrop_rel_att_not_divided", "focus/methods/vicrop.py",
             "    return question_map / general_map.clamp_min(torch.finfo(torch.float32).tiny)",
             "    return question_map + 0 * general_map",
             ("tests/test_vicrop.py",), "rel-att ignores the generic prompt's map"),
    Mutation("vicrop_grad_att_no_relu", "focus/methods/vicrop.py",
             "    return (attention * gradient.clamp_min(0)).mean(dim=0)", "    return (attention * gradient).mean(dim=0)",
             ("tests/test_vicrop.py",), "grad-att keeps negative gradients"),
    Mutation("vicrop_sharpness_not_per_cell", "focus/methods/vicrop.py",
             "        sharpness = (sums[y, x] - (np.mean(neighbours) if neighbours else 0.0)) / (n_x * n_y)",
             "        sharpness = (sums[y, x] - (np.mean(neighbours) if neighbours else 0.0))",
             ("tests/test_vicrop.py",), "window ratios compared without dividing by the window's cells"),
    Mutation("vicrop_block_columns_rounded_up", "focus/methods/vicrop.py",
             "    n_cols = max(1, int(n_rows * width / height))", "    n_cols = max(1, math.ceil(n_rows * width / height))",
             ("tests/test_vicrop.py",), "high-res block columns rounded up instead of truncated"),
    Mutation("vicrop_padding_ignored", "focus/methods/vicrop.py",
             "                att, region = trim_to_image(grid, layout)",
             "                att, region = grid, (0.0, 0.0, float(image.width), float(image.height))",
             ("tests/test_vicrop.py",), "the map of a padded square stretched over the image"),
    Mutation("interleaved_yes_no_swapped", "focus/models/base.py",
             "        return self._forward(inputs, logits_to_keep=1).logits[:, -1, [self.yes_id, self.no_id]].float().cpu()",
             "        return self._forward(inputs, logits_to_keep=1).logits[:, -1, [self.no_id, self.yes_id]].float().cpu()",
             ("tests/test_zoomeye.py", "-k", "interleaved"), "ZoomEye's confidences read No as Yes"),
    Mutation("last_row_attention_wrong_row", "focus/models/base.py",
             "    last_row, weights = family_eager(module, query[:, :, -1:], key, value, mask, **kwargs)",
             "    last_row, weights = family_eager(module, query[:, :, -2:-1], key, value, mask, **kwargs)",
             ("tests/test_vicrop.py", "-k", "fully_eager"), "ViCrop reads the attention of the second-to-last token"),
    Mutation("grad_att_loss_sign", "focus/models/base.py",
             "                    loss = -torch.nn.functional.cross_entropy(logits, logits.argmax(dim=-1))",
             "                    loss = torch.nn.functional.cross_entropy(logits, logits.argmax(dim=-1))",
             ("tests/test_vicrop.py", "-k", "fully_eager"), "grad-att differentiates +CE instead of −CE"),
    # --- cost per question: the shared image prefix, the early stop, shared existence batches, the meter
    Mutation("prefix_cut_one_token_late", "focus/models/base.py",
             "        cache.crop(shared - cache.get_seq_length())",
             "        cache.crop(shared + 1 - cache.get_seq_length())",
             ("tests/test_cost.py", "-k", "shared_image_prefix"),
             "the shared prefix keeps the first target's first differing token"),
    Mutation("early_stop_one_layer_short", "focus/models/base.py",
             "            hooks.append(layers[-1].register_forward_hook(_stop_forward))",
             "            hooks.append(layers[-2].register_forward_hook(_stop_forward))",
             ("tests/test_cost.py", "-k", "early_stop"), "the relevance pass stops before layer L-1"),
    Mutation("suffix_features_of_the_wrong_row", "focus/models/base.py",
             "            feats = [layer.values[row, :, :length] for layer in computed]  # [kv_heads, N, head_dim]",
             "            feats = [layer.values[0, :, :length] for layer in computed]  # [kv_heads, N, head_dim]",
             ("tests/test_cost.py", "-k", "shared_image_prefix"), "every batched suffix reads the first row's values"),
    Mutation("shared_batch_skips_type2", "focus/stages/ranker.py",
             "                for r in (rois if target in type2 else first_step(rois, self.n_steps, self.overrun))]",
             "                for r in first_step(rois, self.n_steps, self.overrun)]",
             ("tests/test_cost.py", "-k", "share_batches"), "type-2 targets' ROIs left out of the shared batches"),
    Mutation("prefill_tokens_of_one_row", "focus/models/base.py",
             "        with self.cost.model_call(inputs[\"input_ids\"].numel(), self.vision_images(inputs)):",
             "        with self.cost.model_call(inputs[\"input_ids\"].shape[-1], self.vision_images(inputs)):",
             ("tests/test_cost.py", "-k", "metered"), "prefill tokens of a batch counted for one row"),
    # --- layer numbers mapped onto a model's depth, every method on every model, failed sweep jobs
    Mutation("layer_mapping_floored", "focus/stages/relevance.py",
             "    mapped = int(layer * num_layers / ref + 0.5)",
             "    mapped = int(layer * num_layers / ref)",
             ("tests/test_configs.py", "-k", "map_paper_layer_ranges"), "paper layers floored instead of rounded"),
    Mutation("vicrop_layer_not_mapped", "focus/methods/vicrop.py",
             "        layer = scaled_layer(self.layer, adapter.num_layers, self.layer_depth_ref, key=\"method.layer\")",
             "        layer = self.layer",
             ("tests/test_method_matrix.py", "-k", "vicrop"), "ViCrop's paper layer used on a shallower model"),
    Mutation("sweep_failures_exit_0", "focus/run.py",
             "    if sweep_failed_jobs():  # a multirun whose jobs had failed samples (listed in its summary) exits 1, as a run does",
             "    if False:",
             ("tests/test_sweep_failures.py",), "a multirun whose jobs failed exits 0"),
    Mutation("failed_jobs_not_listed", "focus/harness/console.py",
             "        if metrics and metrics.get(\"errors\"):",
             "        if metrics and metrics.get(\"errors\") is None:",
             ("tests/test_sweep_failures.py",), "jobs with error records left out of the sweep summary"),
]


def occurrences(mutation: Mutation, root: Path = ROOT) -> list[int]:
    """Indices of the lines of `root`/file equal to the original line."""
    lines = (root / mutation.file).read_text().split("\n")
    return [i for i, line in enumerate(lines) if line == mutation.original]


def apply(mutation: Mutation, root: Path) -> None:
    """Replace the original line by the mutated one in `root`/file; exactly one occurrence must exist."""
    hits = occurrences(mutation, root)
    if len(hits) != 1:
        raise ValueError(f"{mutation.name}: the original line occurs {len(hits)} times in {mutation.file}")
    path = root / mutation.file
    lines = path.read_text().split("\n")
    lines[hits[0]] = mutation.mutated
    path.write_text("\n".join(lines))


def run_one(mutation: Mutation, tiny_cache: str, tests: list[str] | None = None) -> tuple[str, str, float]:
    """(KILLED|SURVIVED|ERROR, the failing test or the reason, seconds)."""
    start = time.time()
    with tempfile.TemporaryDirectory(prefix=f"mut_{mutation.name}_") as tmp:
        copy = Path(tmp)
        for name in COPIED:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, copy / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc"))
            else:
                shutil.copy2(src, copy / name)
        apply(mutation, copy)
        env = {**os.environ, "HF_HUB_OFFLINE": "1", "FOCUS_TEST_TINY_CACHE": tiny_cache, "PYTHONDONTWRITEBYTECODE": "1"}
        proc = subprocess.run([sys.executable, "-m", "pytest", "-x", "-q", "-p", "no:cacheprovider", *(tests or mutation.tests)],
                              cwd=copy, env=env, capture_output=True, text=True, timeout=1800)
    seconds = time.time() - start
    failed = [line[len("FAILED "):].split(" - ")[0] for line in proc.stdout.splitlines() if line.startswith("FAILED ")]
    if proc.returncode == 1 and failed:
        return "KILLED", failed[0], seconds
    if proc.returncode == 0:
        return "SURVIVED", "all selected tests passed", seconds
    return "ERROR", (proc.stdout + proc.stderr).strip().splitlines()[-1][:200], seconds


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--only", nargs="*", help="names of the mutations to run (default: all)")
    parser.add_argument("--list", action="store_true", help="list the mutations and exit")
    parser.add_argument("--tiny-cache", default=os.environ.get("FOCUS_TEST_TINY_CACHE"),
                        help="tiny-checkpoint cache shared by the runs (default: a temporary one, built once)")
    parser.add_argument("--tests", nargs="*", help="pytest arguments run for every mutation instead of its own tests "
                        "(e.g. tests/test_demo_model.py: does the demo model notice the bug?)")
    args = parser.parse_args(argv)
    chosen = [m for m in MUTATIONS if not args.only or m.name in args.only]
    if args.only and len(chosen) != len(set(args.only)):
        parser.error(f"unknown mutation names: {sorted(set(args.only) - {m.name for m in MUTATIONS})}")
    if args.list:
        for m in chosen:
            print(f"{m.name:40s} {m.file:28s} {m.what}")
        return 0
    stale = [m.name for m in chosen if len(occurrences(m)) != 1]
    if stale:  # fail fast on a stale list, before any test runs
        parser.error(f"original lines not found exactly once (update the list): {stale}")
    with tempfile.TemporaryDirectory(prefix="mut_tiny_") as default_cache:
        tiny_cache = args.tiny_cache or default_cache
        survived = 0
        print(f"{'mutation':40s} {'result':9s} {'seconds':>7s}  killed by")
        for m in chosen:
            verdict, detail, seconds = run_one(m, tiny_cache, args.tests)
            survived += verdict != "KILLED"
            print(f"{m.name:40s} {verdict:9s} {seconds:7.1f}  {detail}", flush=True)
    print(f"{len(chosen) - survived} of {len(chosen)} mutations killed")
    return 1 if survived else 0


if __name__ == "__main__":
    sys.exit(main())
