"""The demo model: a small LLaVA-architecture checkpoint trained here, on which FOCUS visibly works.

`focus.demo.model` builds its tokenizer, config and processor; `focus.demo.train` reproduces the checkpoint from
scratch on a CPU; `focus.demo.evaluate` measures what its model card reports. The shipped checkpoint lives in
`focus/demo/checkpoint/` and loads through the LLaVA-1.5 adapter (`model=demo_llava15`).
"""

from pathlib import Path

CHECKPOINT_DIR = Path(__file__).resolve().parent / "checkpoint"
