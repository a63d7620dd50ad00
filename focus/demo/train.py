"""`python -m focus.demo.train`: reproduce the demo checkpoint from scratch (seeded, CPU, about an hour on 2 cores).

The recipe stands in for what large-scale pretraining gives real MLLMs, in two stages (the measured reasons are in
shared/docs/demo-model-findings.md and in the model card):

1. Alignment. Only the vision tower and the projector train, so that each visual token lands near a word vector
   of the (frozen, random) language model: the sum of the embeddings of the colour, the shape and "object" for a
   grid cell an object covers, the embedding of "background" elsewhere. Loss per token:
   1 − cos(p, t) + 0.1·(‖p‖/‖t‖ − 1)², background cells weighted 0.3, plus a shape-classification term on the
   object cells of crops (the shape is what a crop adds over the whole image). This is what makes the value vectors of a target
   word and of its image patches similar — the signal FOCUS reads (paper Sec. 3.2).
2. Instruction tuning. The language model trains on the questions the framework asks, with the vision tower, the
   projector and the word embeddings frozen, and the first decoder layer's value path (`input_layernorm`, `v_proj`)
   frozen too, so layer 0's values keep the alignment of stage 1: existence questions ("Is there a red object in
   the image? Answer Yes or No.") on crops that contain the object or not — negatives include crops with other
   objects and scenes' other colours — V*-style shape and left/right questions answered with the option's text
   (the demo model answers by logits matching, paper App. C.5: a 1.5 M-parameter model does not learn within the CPU
   budget to point from a shape to its option letter — measured at chance after 1,500 steps), on
   crops and on whole images, and the ICL target-extraction prompt of `focus.stages.targets`. Visual tokens are computed
   once per view (the vision side is frozen), so a step costs only the language model.

Outputs: the checkpoint (`save_pretrained`: safetensors, config, tokenizer, processor), `MODEL_CARD.md`,
`train_log.jsonl` (losses and held-out checks during training) in `--out`.
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import math
import os
import random
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from tqdm import tqdm

from ..data.demo_scenes import COLOURS, SHAPES
from ..stages.targets import build_icl_prompt
from . import CHECKPOINT_DIR
from .views import GRID, TrainConfig, View, cached_views, normalise
from .model import (EXISTENCE_PROMPT, attribute_question, build_model_and_processor,
                    build_tokenizer, spatial_question, target_answer)

# ------------------------------------------------------------------------------------------------- stage 1
def visual_tokens(model, pixel_values: torch.Tensor) -> torch.Tensor:
    """[B, 144, hidden] — the projected patch tokens the language model receives (LLaVA `default` strategy)."""
    cfg = model.config
    hidden = model.model.vision_tower(pixel_values, output_hidden_states=True).hidden_states
    return model.model.multi_modal_projector(hidden[cfg.vision_feature_layer][:, 1:])


def alignment_targets(model, tokenizer, views: list[View], position_words: bool = True) -> torch.Tensor:
    """[V, 144, hidden]: colour + shape + "object" embeddings on object cells (plus a left/right mix of the cell's
    column), "background" elsewhere."""
    emb = model.get_input_embeddings().weight.detach()
    word = {w: emb[tokenizer.convert_tokens_to_ids(w)]
            for w in [*COLOURS, *SHAPES, "object", "background", "left", "right"]}
    out = torch.empty(len(views), GRID * GRID, emb.shape[1])
    for i, v in enumerate(views):
        for cell, k in enumerate(v.cell_object.tolist()):
            if k < 0:
                out[i, cell] = word["background"]
            else:
                colour, shape = v.objects[k]
                out[i, cell] = word[colour] + word[shape] + word["object"]
                if position_words:  # where the cell lies left to right, for left/right questions
                    x = (cell % GRID) / (GRID - 1)
                    out[i, cell] += (1 - x) * word["left"] + x * word["right"]
    return out


def shape_labels(views: list[View]) -> torch.Tensor:
    """[V, 144] index into SHAPES of the object on each cell of a crop view; -100 on background cells and on whole
    views, where an object is a few pixels and its shape cannot be seen."""
    out = torch.full((len(views), GRID * GRID), -100, dtype=torch.long)
    for i, v in enumerate(views):
        if not v.whole:
            for cell, k in enumerate(v.cell_object.tolist()):
                if k >= 0:
                    out[i, cell] = SHAPES.index(v.objects[k][1])
    return out


def alignment_loss(pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor, shapes: torch.Tensor | None = None,
                   shape_words: torch.Tensor | None = None, shape_weight: float = 0.0) -> torch.Tensor:
    """1 − cos(p, t) + 0.1·(‖p‖/‖t‖ − 1)² per token (weighted), plus `shape_weight` × a cross-entropy over the
    cosines (temperature 0.1) between an object cell's token and the four shape words: the colour dominates the
    summed target, and without this term the shape — the one thing a crop adds — is barely learned."""
    cos = F.cosine_similarity(pred, target, dim=-1)
    ratio = pred.norm(dim=-1) / target.norm(dim=-1)
    per_token = 1 - cos + 0.1 * (ratio - 1) ** 2
    loss = (per_token * weight).sum() / weight.sum()
    if shape_weight and shapes is not None and (shapes >= 0).any():
        logits = F.normalize(pred, dim=-1) @ F.normalize(shape_words, dim=-1).T / 0.1  # [B, 144, 4]
        loss = loss + shape_weight * F.cross_entropy(logits.flatten(0, 1), shapes.flatten(), ignore_index=-100)
    return loss


def train_alignment(model, tokenizer, views, cfg: TrainConfig, log) -> None:
    device = cfg.device
    params = list(model.model.vision_tower.parameters()) + list(model.model.multi_modal_projector.parameters())
    for p in model.parameters():
        p.requires_grad_(False)
    for p in params:
        p.requires_grad_(True)
    opt = torch.optim.AdamW(params, lr=cfg.stage1_lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_schedule(cfg.warmup, cfg.stage1_steps))
    targets = alignment_targets(model, tokenizer, views, cfg.position_words)
    shapes = shape_labels(views)
    emb = model.get_input_embeddings().weight.detach()
    shape_words = torch.stack([emb[tokenizer.convert_tokens_to_ids(w)] for w in SHAPES]).to(device)
    weights = torch.tensor(np.stack([v.cell_object for v in views]) >= 0).float()
    weights = weights + (1 - weights) * cfg.background_weight
    rng = np.random.default_rng(cfg.seed)
    model.train()
    bar = tqdm(range(cfg.stage1_steps), desc="stage 1: alignment")
    for step in bar:
        idx = rng.integers(0, len(views), cfg.stage1_batch)
        px = torch.stack([normalise(views[i].pixels) for i in idx]).to(device)
        loss = alignment_loss(visual_tokens(model, px), targets[idx].to(device), weights[idx].to(device),
                              shapes[idx].to(device), shape_words, cfg.shape_weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        if step % 50 == 0 or step == cfg.stage1_steps - 1:
            bar.set_postfix(loss=f"{loss.item():.3f}")
            log({"stage": 1, "step": step, "loss": loss.item()})
    model.eval()


@torch.no_grad()
def precompute_visual_tokens(model, views, cfg: TrainConfig) -> torch.Tensor:
    out = []
    for i in tqdm(range(0, len(views), 256), desc="visual tokens"):
        px = torch.stack([normalise(v.pixels) for v in views[i:i + 256]]).to(cfg.device)
        out.append(visual_tokens(model, px).float().cpu())
    return torch.cat(out)


# ------------------------------------------------------------------------------------------------- stage 2
@dataclass
class Example:
    view: int | None  # index into the views, None for a text-only prompt
    prompt: str
    answer: str


class ExampleSampler:
    """Draws stage-2 examples: existence, shape and left/right questions on views, ICL target extraction."""

    def __init__(self, views: list[View], cfg: TrainConfig, seed: int):
        self.views, self.cfg = views, cfg
        self.rng = random.Random(seed)
        self.crops = [i for i, v in enumerate(views) if not v.whole]
        self.wholes = [i for i, v in enumerate(views) if v.whole]
        names, probs = zip(*cfg.task_mix)
        self.tasks, self.probs = list(names), list(probs)

    def __call__(self, step: int = 0) -> Example:
        early = step < self.cfg.existence_first
        probs = [p if (not early or t in ("existence", "extract")) else 0.0 for t, p in zip(self.tasks, self.probs)]
        task = self.rng.choices(self.tasks, probs)[0]
        for _ in range(50):
            ex = getattr(self, task)()
            if ex is not None:
                return ex
        return self.existence()

    def _view(self, whole_fraction: float) -> int:
        pool = self.wholes if self.rng.random() < whole_fraction else self.crops
        return self.rng.choice(pool)

    def existence(self) -> Example | None:
        i = self._view(0.2)
        v = self.views[i]
        present = {v.objects[k][0] for k, f in enumerate(v.inside) if f >= 0.5}
        partial = {v.objects[k][0] for k, f in enumerate(v.inside) if 0 < f < 0.5}
        if self.rng.random() < 0.5:
            if not present:
                return None
            colour, answer = self.rng.choice(sorted(present)), "Yes"
        else:
            # negatives: the scene's other objects (outside this crop) first — the hard case FOCUS meets — then
            # colours absent from the scene
            in_scene = {c for c, _ in v.objects} - present - partial
            pool = sorted(in_scene) if in_scene and self.rng.random() < 0.7 else sorted(set(COLOURS) - present - partial)
            if not pool:
                return None
            colour, answer = self.rng.choice(pool), "No"
        return Example(i, EXISTENCE_PROMPT.format(target=f"{colour} object"), answer)

    def shape(self) -> Example | None:
        i = self._view(self.cfg.whole_view_fraction)
        v = self.views[i]
        inside = [k for k, f in enumerate(v.inside) if f >= 0.999]
        if not inside:
            return None
        colour, shape = v.objects[self.rng.choice(inside)]
        return Example(i, attribute_question(colour), shape)  # the option text logits matching scores

    def spatial(self) -> Example | None:
        i = self._view(max(self.cfg.whole_view_fraction, 0.6))
        v = self.views[i]
        inside = [k for k, f in enumerate(v.inside) if f >= 0.999]
        size = (v.box[2] - v.box[0]) / GRID
        pairs = [(a, b) for a in inside for b in inside if a != b and abs(v.centers_x[a] - v.centers_x[b]) >= size]
        if not pairs:
            return None
        a, b = self.rng.choice(pairs)
        answer = "left" if v.centers_x[a] < v.centers_x[b] else "right"
        return Example(i, spatial_question(v.objects[a][0], v.objects[b][0]), answer)

    def extract(self) -> Example:
        colours = self.rng.sample(sorted(COLOURS), 2)
        if self.rng.random() < 0.6:
            question, targets = attribute_question(colours[0]), [f"{colours[0]} object"]
        else:
            question, targets = spatial_question(*colours), [f"{c} object" for c in colours]
        return Example(None, build_icl_prompt(question), target_answer(targets))


class Encoder:
    """Token ids, labels and attention routes of examples in the chat template (LLaVA-1.5's:
    USER: <image>\\n... ASSISTANT: ...)."""

    def __init__(self, tokenizer, processor):
        self.tok, self.processor = tokenizer, processor
        self.image_id = tokenizer.convert_tokens_to_ids("<image>")
        self.colour_ids = {tokenizer.convert_tokens_to_ids(c) for c in COLOURS}
        self.cache: dict = {}

    def routes(self, ids: list[int]) -> list[tuple[int, int, int, list[int]]]:
        """(layer, head, query position, key positions) that the attention-routing loss asks for.

        The language model is small and trained briefly, so it does not find by itself how to carry the question's
        words to the answer position — the long chance-level plateau of shared/docs/demo-model-findings.md. One
        route is supervised (an auxiliary loss, the -log of the attention mass on the keys): in layer 1, heads 0/1,
        the answer position attends to the colour word of the first/second target (which in layer 0 has attended
        to the matching image tokens — mimetic initialisation). Nothing supervises where a colour word looks in the
        image: the relevance map stays what stage 1 made it.
        """
        final = len(ids) - 1
        start = max(i for i, t in enumerate(ids) if t == self.image_id) + 1 if self.image_id in ids else 0
        colours = [i for i in range(start, len(ids)) if ids[i] in self.colour_ids]
        return [(1, h, final, [pos]) for h, pos in enumerate(colours[:2])]

    def prompt_ids(self, n_images: int, text: str) -> list[int]:
        key = (n_images, text)
        if key not in self.cache:
            content = [{"type": "image"}] * n_images + [{"type": "text", "text": text}]
            chat = self.processor.apply_chat_template([{"role": "user", "content": content}],
                                                      add_generation_prompt=True, tokenize=False)
            ids = self.tok(chat)["input_ids"]
            expanded = []
            for t in ids:
                expanded += [t] * (GRID * GRID) if t == self.image_id else [t]
            self.cache[key] = expanded
        return self.cache[key]

    def __call__(self, ex: Example) -> tuple[list[int], list[int], list]:
        prompt = self.prompt_ids(0 if ex.view is None else 1, ex.prompt)
        answer = self.tok(ex.answer, add_special_tokens=False)["input_ids"] + [self.tok.eos_token_id]
        routes = self.routes(prompt) if ex.view is not None else []
        return prompt + answer, [-100] * len(prompt) + answer, routes


def lm_loss(model, batch: list[Example], encoder: Encoder, features: torch.Tensor, device,
            routing_weight: float = 0.0) -> torch.Tensor:
    """Next-token loss on the answers, plus `routing_weight` × the attention-routing loss (Encoder.routes)."""
    encoded = [encoder(ex) for ex in batch]
    n = max(len(ids) for ids, _, _ in encoded)
    pad = encoder.tok.pad_token_id
    ids = torch.full((len(batch), n), pad, dtype=torch.long)
    labels = torch.full((len(batch), n), -100, dtype=torch.long)
    mask = torch.zeros((len(batch), n), dtype=torch.long)
    for b, (x, y, _) in enumerate(encoded):  # right padding: training only, the causal mask keeps it harmless
        ids[b, :len(x)], labels[b, :len(y)], mask[b, :len(x)] = torch.tensor(x), torch.tensor(y), 1
    ids, labels, mask = ids.to(device), labels.to(device), mask.to(device)
    embeds = model.get_input_embeddings()(ids)
    image_rows = [b for b, ex in enumerate(batch) if ex.view is not None]
    if image_rows:
        feats = features[[batch[b].view for b in image_rows]].to(device, embeds.dtype)  # [b, 144, hidden]
        is_image = ids[image_rows] == encoder.image_id
        embeds = embeds.clone()
        sub = embeds[image_rows]
        sub[is_image] = feats.reshape(-1, feats.shape[-1])
        embeds[image_rows] = sub
    routes = [(b, *r) for b, (_, _, rs) in enumerate(encoded) for r in rs] if routing_weight else []
    out = model.model.language_model(inputs_embeds=embeds, attention_mask=mask, output_attentions=bool(routes))
    targets = labels[:, 1:]
    keep = targets != -100
    token_loss = F.cross_entropy(model.lm_head(out.last_hidden_state[:, :-1][keep]).float(), targets[keep],
                                 reduction="none")
    # mean per example, then over examples: a one-letter answer weighs as much as an 18-word extraction answer
    rows = keep.nonzero()[:, 0]
    per_example = torch.zeros(len(batch), device=device).index_add_(0, rows, token_loss)
    loss = (per_example / keep.sum(1).clamp_min(1)).mean()
    if routes:
        mass = torch.stack([out.attentions[layer][b, head, q, keys].sum() for b, layer, head, q, keys in routes])
        loss = loss + routing_weight * -(mass + 1e-6).log().mean()
    return loss


def trainable_language_params(model, cfg: TrainConfig) -> list[torch.nn.Parameter]:
    for p in model.parameters():
        p.requires_grad_(False)
    params = []
    frozen = {id(model.get_input_embeddings().weight)}
    if cfg.freeze_layer0_values:
        layer0 = model.model.language_model.layers[0]
        frozen |= {id(p) for p in [*layer0.input_layernorm.parameters(), *layer0.self_attn.v_proj.parameters()]}
    for p in [*model.model.language_model.parameters(), *model.lm_head.parameters()]:
        if id(p) not in frozen:
            p.requires_grad_(True)
            params.append(p)
    return params


@torch.no_grad()
def init_attention(model, seed: int) -> None:
    """Mimetic initialisation (Trockman & Kolter, 2023) of every decoder layer's attention: W_q = W_k and
    W_o = W_vᵀ for random orthogonal matrices, so each head starts by attending to tokens whose (normalised)
    embeddings resemble its own and copying them. Large-scale pretraining gives real MLLMs such heads; starting
    from them, the small language model learns within the CPU budget to look up the image tokens that match a
    question's colour word instead of sitting on the chance plateau (shared/docs/demo-model-findings.md)."""
    gen = torch.Generator().manual_seed(seed)
    for layer in model.model.language_model.layers:
        attn = layer.self_attn
        d = attn.q_proj.weight.shape[1]
        qk = torch.linalg.qr(torch.randn(d, d, generator=gen))[0]
        vo = torch.linalg.qr(torch.randn(d, d, generator=gen))[0]
        attn.q_proj.weight.copy_(qk[:attn.q_proj.weight.shape[0]])
        attn.k_proj.weight.copy_(qk[:attn.k_proj.weight.shape[0]])
        attn.v_proj.weight.copy_(vo[:attn.v_proj.weight.shape[0]])
        attn.o_proj.weight.copy_(vo[:attn.o_proj.weight.shape[1]].T)


def cosine_schedule(warmup: int, total: int):
    def factor(step: int) -> float:
        if step < warmup:
            return (step + 1) / warmup
        return 0.5 * (1 + math.cos(math.pi * min(1.0, (step - warmup) / max(1, total - warmup))))
    return factor


def train_language(model, tokenizer, processor, views, features, cfg: TrainConfig, log, check=None) -> None:
    device = cfg.device
    params = trainable_language_params(model, cfg)
    opt = torch.optim.AdamW(params, lr=cfg.stage2_lr, weight_decay=0.01)
    sched = torch.optim.lr_scheduler.LambdaLR(opt, cosine_schedule(cfg.warmup, cfg.stage2_steps))
    sampler, encoder = ExampleSampler(views, cfg, cfg.seed + 1), Encoder(tokenizer, processor)
    text_config = model.model.language_model.config
    saved_attn = text_config._attn_implementation
    if cfg.routing_weight:  # the routing loss reads attention probabilities, which only eager attention returns
        text_config._attn_implementation = "eager"
    bar = tqdm(range(cfg.stage2_steps), desc="stage 2: instruction tuning")
    running = None
    for step in bar:
        model.train()
        loss = lm_loss(model, [sampler(step) for _ in range(cfg.stage2_batch)], encoder, features, device,
                       cfg.routing_weight)
        opt.zero_grad()
        loss.backward()
        torch.nn.utils.clip_grad_norm_(params, 1.0)
        opt.step()
        sched.step()
        running = loss.item() if running is None else 0.95 * running + 0.05 * loss.item()
        if step % 50 == 0 or step == cfg.stage2_steps - 1:
            bar.set_postfix(loss=f"{running:.3f}")
            log({"stage": 2, "step": step, "loss": running})
        if check and cfg.eval_every and (step + 1) % cfg.eval_every == 0 and step + 1 < cfg.stage2_steps:
            model.eval()
            text_config._attn_implementation = saved_attn
            log({"stage": 2, "step": step, **check(model)})
            if cfg.routing_weight:
                text_config._attn_implementation = "eager"
    text_config._attn_implementation = saved_attn
    model.eval()


# ------------------------------------------------------------------------------------------------------ main
def save_checkpoint(model, processor, out: Path) -> None:
    out.mkdir(parents=True, exist_ok=True)
    model.to("cpu").save_pretrained(out)
    processor.save_pretrained(out)


def train(cfg: TrainConfig, out: Path, check_fn=None) -> dict:
    """Both stages; writes the checkpoint into `out` and returns the timings."""
    torch.set_num_threads(cfg.threads)
    random.seed(cfg.seed)
    np.random.seed(cfg.seed)
    out.mkdir(parents=True, exist_ok=True)
    log_path = out / "train_log.jsonl"
    log_file = log_path.open("w")
    started = time.perf_counter()

    def log(entry: dict) -> None:
        line = json.dumps({"t": round(time.perf_counter() - started, 1), **entry})
        log_file.write(line + "\n")
        log_file.flush()
        if os.environ.get("FOCUS_DEMO_ECHO"):
            print(line, flush=True)

    log({"config": dataclasses.asdict(cfg)})
    tokenizer = build_tokenizer()
    model, processor = build_model_and_processor(tokenizer, seed=cfg.seed)
    if cfg.attention_init == "mimetic":
        init_attention(model, cfg.seed)
    if cfg.stage1_from:  # the vision side of an earlier stage 1 (same seed, so the same word embeddings)
        from transformers import LlavaForConditionalGeneration
        aligned = LlavaForConditionalGeneration.from_pretrained(cfg.stage1_from)
        model.model.vision_tower.load_state_dict(aligned.model.vision_tower.state_dict())
        model.model.multi_modal_projector.load_state_dict(aligned.model.multi_modal_projector.state_dict())
    model.to(cfg.device)
    timings = {}
    t = time.perf_counter()
    views = cached_views(cfg)
    timings["views_s"] = time.perf_counter() - t
    log({"views": len(views), "seconds": timings["views_s"]})
    t = time.perf_counter()
    if not cfg.stage1_from:
        train_alignment(model, tokenizer, views, cfg, log)
    timings["stage1_s"] = time.perf_counter() - t
    features = precompute_visual_tokens(model, views, cfg) if cfg.stage2_steps else None
    check = check_fn(model, tokenizer, processor, cfg) if check_fn else None
    if check and not cfg.stage1_from:
        log({"stage": 1, **check(model)})
    t = time.perf_counter()
    if cfg.stage2_steps:
        train_language(model, tokenizer, processor, views, features, cfg, log, check)
    timings["stage2_s"] = time.perf_counter() - t
    if check and cfg.stage2_steps:
        log({"stage": 2, "final": True, **check(model)})
    save_checkpoint(model, processor, out)
    timings["total_s"] = time.perf_counter() - started
    log({"timings": timings})
    log_file.close()
    return timings


def parse_args(argv=None) -> tuple[TrainConfig, Path, bool]:
    parser = argparse.ArgumentParser(prog="python -m focus.demo.train", description=__doc__,
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--out", default=str(CHECKPOINT_DIR), help="checkpoint folder (default: the packaged one)")
    parser.add_argument("--no-eval", action="store_true", help="skip the model-card evaluation after training")
    parser.add_argument("--set", nargs="*", default=[], metavar="KEY=VALUE",
                        help=f"override a recipe setting: {', '.join(f.name for f in dataclasses.fields(TrainConfig))}")
    args = parser.parse_args(argv)
    cfg = TrainConfig()
    for item in args.set:
        key, _, value = item.partition("=")
        if key not in {f.name for f in dataclasses.fields(TrainConfig)}:
            parser.error(f"unknown setting {key!r}")
        current = getattr(cfg, key)
        setattr(cfg, key, type(current)(json.loads(value)) if not isinstance(current, str) else value)
    return cfg, Path(args.out), not args.no_eval


def main(argv=None) -> int:
    cfg, out, evaluate = parse_args(argv)
    from .evaluate import quick_check
    timings = train(cfg, out, quick_check)
    print(f"[focus.demo.train] checkpoint written to {out} in {timings['total_s'] / 60:.1f} min "
          f"(scenes {timings['views_s']:.0f} s, stage 1 {timings['stage1_s']:.0f} s, stage 2 {timings['stage2_s']:.0f} s)")
    if evaluate:
        from .evaluate import main as evaluate_main
        return evaluate_main(["--checkpoint", str(out), "--card", str(out / "MODEL_CARD.md")])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
