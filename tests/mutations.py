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
TQ = "tests/test_qwen3vl_ov15.py"  # the Qwen3-VL / LLaVA-OneVision-1.5 tests
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
             "            feats = [layer.values[row, :, :length] if ok else None for layer, ok in zip(computed, whole)]",
             "            feats = [layer.keys[row, :, :length] if ok else None for layer, ok in zip(computed, whole)]",
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
             "        self.processor.image_processor = llava15_image_processor(loaded, size, bool(pad_to_square))",
             "        loaded.do_pad = bool(pad_to_square)",
             ("tests/test_processors.py",),
             "do_pad set on the checkpoint's processor (a CLIPImageProcessor centre-crops instead)"),
    # --- more geometry and method bugs of the same kind
    Mutation("llava15_padding_ignored", "focus/models/llava15.py",
             "            x0, y0 = -((side - w) // 2), -((side - h) // 2)  # same integer split as the processor's pad_to_square",
             "            x0, y0 = 0, 0",
             ("tests/test_pixel_geometry.py", "-k", "llava15"), "LLaVA-1.5 layout forgets the padding offset"),
    Mutation("qwen_layout_transposed", "focus/models/native_grid.py",
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
    Mutation("last_row_attention_wrong_row", "focus/models/attention.py",
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
             "            feats = [layer.values[row, :, :length] if ok else None for layer, ok in zip(computed, whole)]",
             "            feats = [layer.values[0, :, :length] if ok else None for layer, ok in zip(computed, whole)]",
             ("tests/test_cost.py", "-k", "shared_image_prefix"), "every batched suffix reads the first row's values"),
    Mutation("shared_batch_skips_type2", "focus/stages/ranker.py",
             "                for r in (rois if target in type2 else first_step(rois, self.n_steps, self.overrun))]",
             "                for r in first_step(rois, self.n_steps, self.overrun)]",
             ("tests/test_cost.py", "-k", "share_batches"), "type-2 targets' ROIs left out of the shared batches"),
    Mutation("prefill_tokens_of_one_row", "focus/models/base.py",
             "        with self.cost.model_call(inputs[\"input_ids\"].numel(), self.vision_images(inputs)):",
             "        with self.cost.model_call(inputs[\"input_ids\"].shape[-1], self.vision_images(inputs)):",
             ("tests/test_cost.py", "-k", "metered"), "prefill tokens of a batch counted for one row"),
    # --- Qwen3-VL and LLaVA-OneVision-1.5 geometry (tests/test_qwen3vl_ov15.py)
    # the native-resolution grid shared by Qwen2.5-VL, Qwen3-VL and OneVision-1.5 (focus/models/native_grid.py)
    Mutation("native_positions_shifted", "focus/models/native_grid.py",
             "        positions = image_token_positions(input_ids, self.image_token_id)",
             "        positions = image_token_positions(input_ids, self.image_token_id) + 1",
             (TQ, "-k", "pixels or markers"), "Qwen3-VL / OneVision-1.5 visual token positions shifted by one"),
    Mutation("qwen3vl_assumes_28px_tokens", "focus/models/native_grid.py",
             "        self.factor = ip.patch_size * ip.merge_size",
             "        self.factor = 28",
             (TQ, "-k", "qwen3vl and (pixels or markers)"), "Qwen3-VL laid out with Qwen2.5-VL's 28-px tokens"),
    Mutation("ov15_assumes_32px_tokens", "focus/models/native_grid.py",
             "        self.factor = ip.patch_size * ip.merge_size",
             "        self.factor = 32",
             (TQ, "-k", "llava_ov15 and (pixels or markers)"), "OneVision-1.5 laid out with Qwen3-VL's 32-px tokens"),
    Mutation("qwen3vl_patch_not_aligned", "focus/models/qwen3vl.py",
             "        align_with_model(ip, \"patch_size\", vision.patch_size, self.path)",
             "        pass",
             (TQ, "-k", "qwen3vl and agree"), "Qwen3-VL processor patch size not made to agree with the model's"),
    Mutation("ov15_two_frame_patches", "focus/models/llava_ov15.py",
             "        align_with_model(ip, \"temporal_patch_size\", getattr(vision, \"temporal_patch_size\", 1), self.path)",
             "        align_with_model(ip, \"temporal_patch_size\", getattr(vision, \"temporal_patch_size\", 2), self.path)",
             (TQ, "-k", "llava_ov15 and agree"), "OneVision-1.5 patches given Qwen2-VL's 2 frames (its embedding is 2-D)"),
    Mutation("cache_as_past_key_values", "focus/models/base.py",
             "            self._forward(inputs, cache=cache, use_cache=True, logits_to_keep=1)",
             "            self._forward(inputs, past_key_values=cache, use_cache=True, logits_to_keep=1)",
             (TQ, "-k", "current_argument"), "the decoder cache passed as the deprecated past_key_values="),
    Mutation("remote_code_reported_as_missing", "focus/core/hub.py",
             "    if \"custom code\" in text or \"does not recognize this architecture\" in text:",
             "    if False:",
             (TQ, "-k", "without_a_transformers_class"),
             "a checkpoint needing its own code reported as not in the cache"),
    # --- InternVL geometry (focus/models/internvl.py) and caches without every layer's values (cache_layers.py)
    Mutation("internvl_tiles_left_tile_major", "focus/models/internvl.py",
             "        return tiles_in_image_order(local, layout.rows // self.side, layout.cols // self.side, self.side), layout",
             "        return local, layout",
             ("tests/test_internvl.py", "-k", "changed_pixels"), "InternVL tokens read tile by tile as one raster"),
    Mutation("internvl_thumbnail_first", "focus/models/internvl.py",
             "        local = positions[:n_tiles * self.side ** 2]",
             "        local = positions[len(positions) - n_tiles * self.side ** 2:]",
             ("tests/test_internvl.py", "-k", "changed_pixels"), "the thumbnail taken to come before the tiles"),
    Mutation("internvl_tile_rows_cols_swapped", "focus/models/internvl.py",
             "    return positions.reshape(tile_rows, tile_cols, side, side).permute(0, 2, 1, 3).reshape(-1)",
             "    return positions.reshape(tile_cols, tile_rows, side, side).permute(0, 2, 1, 3).reshape(-1)",
             ("tests/test_internvl.py", "-k", "changed_pixels or first_principles"),
             "tile grid read column-major (non-square tile arrangements)"),
    Mutation("internvl_canvas_transposed", "focus/models/internvl.py",
             "    cols, rows = get_optimal_tiled_canvas((height, width), (tile, tile), min_tiles, max_tiles)",
             "    rows, cols = get_optimal_tiled_canvas((height, width), (tile, tile), min_tiles, max_tiles)",
             ("tests/test_internvl.py", "-k", "changed_pixels"), "tile canvas (cols, rows) read as (rows, cols)"),
    Mutation("internvl_no_pixel_shuffle", "focus/models/internvl.py",
             "        self.side = int(self.tile // patch * cfg.downsample_ratio)  # tokens per tile side after pixel shuffle",
             "        self.side = int(self.tile // patch)  # tokens per tile side after pixel shuffle",
             ("tests/test_internvl.py", "-k", "changed_pixels"), "32×32 tokens per tile: pixel shuffle forgotten"),
    Mutation("internvl_thumbnail_always", "focus/models/internvl.py",
             "        thumbnail = 1 if n_tiles > 1 else 0",
             "        thumbnail = 1",
             ("tests/test_internvl.py", "-k", "changed_pixels"), "a thumbnail expected for a one-tile image"),
    Mutation("internvl_expansion_without_markers", "focus/models/internvl.py",
             "        return f\"{self.processor.start_image_token}{self.image_token * per_image}{self.processor.end_image_token}\"",
             "        return self.image_token * per_image",
             ("tests/test_internvl.py", "-k", "decode_to_the_target"), "<img>/</img> left out of the target offsets"),
    Mutation("internvl_not_global_local", "focus/models/internvl.py",
             "    local_grid = True",
             "    local_grid = False",
             ("tests/test_internvl.py", "-k", "shared_image_prefix"), "InternVL's map not smoothed/downsampled"),
    Mutation("cache_window_read_as_whole", "focus/models/base.py",
             "    return isinstance(values, torch.Tensor) and values.dim() == 4 and values.shape[-2] >= length",
             "    return isinstance(values, torch.Tensor) and values.dim() == 4",
             ("tests/test_cache_layers.py",), "a sliding window's cropped cache read as every token's values"),
    Mutation("shared_kv_layers_kept", "focus/models/cache_layers.py",
             "    for i in range(n - shared, n):",
             "    for i in range(n, n):",
             ("tests/test_cache_layers.py",), "Gemma 4's K/V-sharing layers accepted as relevance layers"),
    Mutation("sliding_layers_kept", "focus/models/cache_layers.py",
             "        if kind in FULL:",
             "        if kind in FULL or kind in SLIDING:",
             ("tests/test_cache_layers.py",), "sliding-window layers accepted as relevance layers"),
    Mutation("cache_check_skipped", "focus/harness/validate.py",
             "        check_value_layers(text_config, layers, cfg.model.adapter.get(\"path\") or cfg.model.get(\"name\"))",
             "        pass",
             ("tests/test_cache_layers.py", "-k", "refused"), "the run is not refused before weights load"),
    Mutation("keys_norope_before_k_norm", "focus/models/base.py",
             "                key_module = getattr(layer.self_attn, \"k_norm\", None) or layer.self_attn.k_proj",
             "                key_module = layer.self_attn.k_proj",
             ("tests/test_internvl.py", "-k", "k_norm"), "Qwen3 LLMs: pre-RoPE keys read before their k_norm"),
    # --- real size: the dtype the adapter loads in, the model handed to it (README "Real size on a GPU")
    Mutation("adapter_dtype_ignored", "focus/models/base.py",
             "                path, dtype=DTYPES[torch_dtype], attn_implementation=attn_implementation, trust_remote_code=False)",
             "                path, dtype=DTYPES['float32'], attn_implementation=attn_implementation, trust_remote_code=False)",
             ("tests/test_precision.py",), "model.adapter.torch_dtype is not what the weights are loaded in"),
    Mutation("built_model_ignored", "focus/models/base.py",
             "            self.model = model if model is not None else AutoModelForImageTextToText.from_pretrained(",
             "            self.model = AutoModelForImageTextToText.from_pretrained(",
             ("tests/test_real_size_smoke.py", "-k", "code_path"),
             "the benchmark times the tiny checkpoint instead of the real-size model it built"),
    # --- reviewing a run: pictures, report tables, W&B report, run.log
    Mutation("heat_scale_of_one_panel", "focus/review/sample_figure.py",
             "    peak = max([float(heat_ratio(maps[t]).max()) for t in geo[\"targets\"] if t in maps] or [2 * HEAT_FLOOR])",
             "    peak = max([float(heat_ratio(maps[t]).max()) for t in geo[\"targets\"][-1:] if t in maps] or [2 * HEAT_FLOOR])",
             ("tests/test_slide_pictures.py", "-k", "heat_scale"), "the heat scale follows one panel's map, not all"),
    Mutation("report_rows_in_string_order", "focus/review/report.py",
             "    return sorted((p.parent for p in root.rglob(\"metrics.json\")), key=natural_key)",
             "    return sorted((p.parent for p in root.rglob(\"metrics.json\")), key=str)",
             ("tests/test_report_tables.py", "-k", "numeric_order"), "report rows sorted as strings (0, 10, 11, 1, 2)"),
    Mutation("wandb_report_unlogged_key", "focus/review/wandb_report.py",
             "ACCURACY = \"accuracy_strict\"",
             "ACCURACY = \"accuracy\"",
             ("tests/test_wandb_report.py", "-k", "logged_keys"), "a W&B panel over a key no run logged"),
    Mutation("run_log_without_summary", "focus/harness/runner.py",
             "        keep_in_run_log(run_dir, print_summary(metrics, run_dir, records, logger.sync_note()))",
             "        print_summary(metrics, run_dir, records, logger.sync_note())",
             ("tests/test_run_log.py", "-k", "run_log"), "run.log loses the summary"),
    # --- comparisons (README "Comparisons"): intervals, the paired test, the vanilla cache, vanilla rows, presets
    Mutation("interval_not_wilson", "focus/scoring/metrics.py",
             '    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="wilson")',
             '    ci = stats.binomtest(int(k), int(n)).proportion_ci(confidence_level=confidence, method="exact")',
             ("tests/test_comparison_stats.py",), "Clopper-Pearson interval reported as Wilson"),
    Mutation("mcnemar_counts_wrong_way", "focus/scoring/metrics.py",
             "    b = sum(1 for h, o in zip(here, other) if h and not o)",
             "    b = sum(1 for h, o in zip(here, other) if h and o)",
             ("tests/test_comparison_stats.py",), "right-only-here counts the concordant right answers"),
    Mutation("mcnemar_asymptotic_for_small_counts", "focus/scoring/metrics.py",
             "    elif b + c < MCNEMAR_EXACT_BELOW:",
             "    elif b + c > MCNEMAR_EXACT_BELOW:",
             ("tests/test_comparison_stats.py",), "chi-squared p-value where the exact binomial test is due"),
    Mutation("vanilla_cache_ignores_answer_scheme", "focus/harness/vanilla_cache.py",
             '            "answer": scheme.get("answer"), "max_new_tokens": scheme.get("max_new_tokens")}',
             '            "answer": None, "max_new_tokens": scheme.get("max_new_tokens")}',
             ("tests/test_vanilla_cache.py",), "generate and logits-matching answers share cache entries"),
    Mutation("vanilla_cache_never_read", "focus/harness/runner.py",
             "    cached = cache.get(sample) if cache is not None else None",
             "    cached = None",
             ("tests/test_vanilla_cache.py",), "every job of a sweep recomputes the vanilla reference"),
    Mutation("vanilla_reference_rows_not_merged", "focus/review/comparison.py",
             "        if key in out:",
             "        if False:",
             ("tests/test_comparison_report.py",), "one vanilla row per run instead of one per reference"),
    Mutation("preset_lmms_eval_max_pixels", "conf/model/qwen25vl.yaml",
             "  lmms_eval: {min_pixels: 200704, max_pixels: 1605632}    # lmms-eval models/simple/qwen2_5_vl.py: 256*28*28, 2048*28*28",
             "  lmms_eval: {min_pixels: 200704, max_pixels: 1003520}    # lmms-eval models/simple/qwen2_5_vl.py: 256*28*28, 2048*28*28",
             ("tests/test_presets.py",), "the lmms_eval preset keeps focus's max_pixels"),
    Mutation("llava15_resolution_scale_ignored", "focus/models/llava15.py",
             "        size = max(1, round(vision.image_size * scale / vision.patch_size)) * vision.patch_size",
             "        size = vision.image_size",
             ("tests/test_resolution_scale.py",), "budget-matched LLaVA-1.5 vanilla runs at the base size"),
    Mutation("qwen_resolution_scale_on_the_side_not_the_area", "focus/models/native_grid.py",
             '            size["longest_edge"] = int(size["longest_edge"] * float(resolution_scale) ** 2)',
             '            size["longest_edge"] = int(size["longest_edge"] * float(resolution_scale))',
             ("tests/test_resolution_scale.py",), "max_pixels scaled by s instead of s² (the side × s)"),
    # --- run folder and data integrity (README "What a run folder guarantees", "What a dataset row must be")
    Mutation("resume_ignores_fingerprint", "focus/harness/runfolder.py",
             "            if r.get(\"fingerprint\") not in (None, wanted[r[\"id\"]]):",
             "            if False:",
             ("tests/test_data_integrity.py", "-k", "changed_sample"), "a changed sample's stale record kept on resume"),
    Mutation("vstar_ids_from_line_numbers", "focus/data/vstar.py",
             "        sample_id = normalise_id(row.get(\"question_id\")) or content_id(question, options, image_digest)",
             "        sample_id = normalise_id(row.get(\"question_id\")) or str(n)",
             ("tests/test_data_integrity.py", "-k", "inserted_row"), "ids without an id column from line numbers"),
    Mutation("blank_option_shifts_letters", "focus/data/tabular.py",
             "    gaps = [k for k, v in zip(\"ABCDE\", cells[:last]) if _blank(v)]",
             "    gaps = []",
             ("tests/test_data_integrity.py", "-k", "letters"), "a blank option between filled ones not an error"),
    Mutation("grey16_clipped_white", "focus/data/base.py",
             "    if im.mode.startswith(\"I\") or im.mode == \"F\":",
             "    if im.mode == \"F\":",
             ("tests/test_data_integrity.py", "-k", "image_modes"), "16-bit greyscale converted by PIL (all white)"),
    Mutation("image_size_unchecked", "focus/data/base.py",
             "        check_image_size(im.size, source)",
             "        pass",
             ("tests/test_data_integrity.py", "-k", "image_modes"), "no per-sample pixel bound before decoding"),
    Mutation("metrics_over_every_record", "focus/harness/runner.py",
             "        records = folder.records_for(plan)  # the samples this run takes (a shrunk limit leaves others unreported)",
             "        records = folder.records()",
             ("tests/test_data_integrity.py", "-k", "changed_sample"), "a shrunk dataset.limit reports every record"),
    Mutation("visualize_instantiates_folder_config", "focus/review/visualize.py",
             "    dataset = dataset_from_config(config[\"dataset\"][\"loader\"], f\"{run_dir} config\", limit=None)  # refused first",
             "    dataset = __import__(\"focus.harness.config\", fromlist=[\"b\"]).build({**config[\"dataset\"][\"loader\"], \"limit\": None})",
             ("tests/test_folder_safety.py", "-k", "never_runs"), "a folder's dataset config instantiated by Hydra"),
    Mutation("partial_rescore_complete", "focus/review/completeness.py",
             "    complete = None if expected is None else (n >= expected and holder is None)",
             "    complete = True",
             ("tests/test_folder_safety.py", "-k", "killed_run"), "a killed run's rescored metrics look final"),
    # --- the framework's own cost (tests/test_overhead.py): fast paths equal the paths they replace
    Mutation("fast_pad_offset_rounded_up", "focus/models/processors.py",
             "        top = (s - h) // 2",
             "        top = (s - h + 1) // 2",
             ("tests/test_overhead.py", "-k", "bit_for_bit"), "fast pad puts a wide image one row lower than the stock pad"),
    Mutation("fast_pad_tall_band_unpadded", "focus/models/processors.py",
             "            padded.paste(rows, (left, 0))",
             "            padded.paste(rows, (0, 0))",
             ("tests/test_overhead.py", "-k", "bit_for_bit"), "fast pad of a tall image pads on the right only"),
    Mutation("image_cache_keyed_by_size_only", "focus/models/processors.py",
             "        key = (id(image), image.size, image.mode, options)",
             "        key = (0, image.size, image.mode, options)",
             ("tests/test_overhead.py", "-k", "cache"), "two images of one size share a cache entry"),
    Mutation("image_cache_content_match_by_size", "focus/models/processors.py",
             "        return image.tobytes() == self._bytes",
             "        return image.size == self.image.size",
             ("tests/test_overhead.py", "-k", "cache"), "another image of the same size taken for a crop seen before"),
    Mutation("image_cache_palette_ignored", "focus/models/processors.py",
             "        if image.mode in (\"P\", \"PA\") and image.getpalette() != self.image.getpalette():",
             "        if False:",
             ("tests/test_overhead.py", "-k", "pixels"), "a palette image taken for another with other colours"),
    Mutation("image_cache_failure_kept", "focus/models/processors.py",
             "                self.entries = {k: e for k, e in self.entries.items() if e is not entry}",
             "                pass",
             ("tests/test_overhead.py", "-k", "ahead"), "an image whose processing failed once fails for the question"),
    Mutation("image_cache_queued_work_not_taken_back", "focus/models/processors.py",
             "            if job is not None and job.cancel():",
             "            if False:",
             ("tests/test_overhead.py", "-k", "busy"), "the caller waits for work queued behind a busy worker"),
    Mutation("joined_patches_padded_in_front", "focus/models/processors.py",
             "                values = [torch.nn.functional.pad(v, [0, 0] * (v.dim() - 2) + [0, longest - v.shape[1]])",
             "                values = [torch.nn.functional.pad(v, [0, 0] * (v.dim() - 2) + [longest - v.shape[1], 0])",
             ("tests/test_overhead.py", "-k", "joined or one_by_one"), "patches padded before an image's own"),
    Mutation("onevision_patches_not_padded", "focus/models/llava_ov.py",
             "    pads_patches = True  # a batch's anyres patches are zero-padded to its most (`_pad_for_batching`)",
             "    pads_patches = False  # a batch's anyres patches are zero-padded to its most (`_pad_for_batching`)",
             ("tests/test_overhead.py", "-k", "one_by_one and llava_ov"), "OneVision crops processed twice per batch"),
    Mutation("prepared_with_other_options", "focus/models/base.py",
             "            self.image_cache.ahead([image], self.image_options())",
             "            self.image_cache.ahead([image], {**self.image_options(), \"return_tensors\": None})",
             ("tests/test_overhead.py", "-k", "one_by_one"), "the image processed ahead under options no call uses"),
    Mutation("image_not_prepared", "focus/harness/runner.py",
             "        getattr(adapter, \"prepare\", lambda image: None)(image)  # e.g. the image processed in the background",
             "        pass",
             ("tests/test_overhead.py", "-k", "demo_records"), "the whole image processed on the model's thread"),
    Mutation("normalise_table_channels_reversed", "focus/models/processors.py",
             "    return ((rescaled[None, :] - mean[:, None]) / std[:, None]).astype(np.float32)  # image_transforms.normalize",
             "    return ((rescaled[None, :] - mean[::-1, None]) / std[:, None]).astype(np.float32)  # image_transforms.normalize",
             ("tests/test_overhead.py", "-k", "bit_for_bit"), "the mean of channel R subtracted from B"),
    Mutation("normalise_table_channel_offsets_shifted", "focus/models/processors.py",
             "        offsets = (np.arange(3, dtype=np.intp) * 256)[:, None, None]  # channel c reads entries [256c, 256c + 256)",
             "        offsets = (np.arange(3, dtype=np.intp) * 255)[:, None, None]  # channel c reads entries [256c, 256c + 256)",
             ("tests/test_overhead.py", "-k", "bit_for_bit"), "channel G reads R's last entry for its value 0"),
    Mutation("image_cache_not_cleared_per_sample", "focus/models/base.py",
             "        self.image_cache.clear()",
             "        pass",
             ("tests/test_overhead.py", "-k", "cache"), "processed images outlive their question"),
    Mutation("option_suffix_shifted", "focus/models/options.py",
             "            batch[row, :len(s) - 1] = torch.tensor(s[:-1])",
             "            batch[row, :len(s) - 1] = torch.tensor(s[1:])",
             ("tests/test_overhead.py", "-k", "option"), "batched option tokens fed one position ahead"),
    Mutation("option_first_token_unscored", "focus/models/options.py",
             "        logits = first[None] if len(s) == 1 else torch.cat([first[None], rest[row, :len(s) - 1]], dim=0)",
             "        logits = first[None] if len(s) == 1 else rest[row, :len(s) - 1]",
             ("tests/test_overhead.py", "-k", "option"), "the option's first token not scored by the prompt's logits"),
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
