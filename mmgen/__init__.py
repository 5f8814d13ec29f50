"""A notebook-first research workbook for multimodal generation

Modules:

- `mmgen.losses`: CLIP's InfoNCE with a learnable temperature, SigLIP's sigmoid loss with a learnable scale and bias, and cosine distillation — each checked against open_clip, forward and gradients.
- `mmgen.moe`: DeepSeekMoE / DeepSeek-V3 feed-forward: shared experts, fine-grained routed SwiGLU experts, top-k routing with an explicit load-balancing loss or bias-based balancing, and a dispatch with no Python loop over tokens or experts.
- `mmgen.tokenizers`: Word-level, trainable byte-level BPE and CLIP's BPE behind one interface: `encode`, `decode`, and a batch call that pads and returns a padding mask."""

__version__ = "0.0.1"
