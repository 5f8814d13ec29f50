"""A notebook-first research workbook for multimodal generation

Modules:

- `mmgen.attention`: Multi-head attention on `F.scaled_dot_product_attention` with masks done right, a KV cache, pre-norm encoder and decoder blocks, FFNs, ViT patches, and the text encoder/decoder every seed system uses.
- `mmgen.callbacks`: What `fit` calls after each step and epoch: the `TrainState` it shows, the `Callback` base, the TensorBoard and W&B loggers, and the weights' moving average (`EMA`).
- `mmgen.captioner`: ResNet visual tokens, a RoPE text decoder with cross-attention and optional DeepSeek MoE, SigLIP alignment and scheduled teacher forcing — with every bug the seed's author listed pinned by a test.
- `mmgen.captioner_report`: What `14_captioner` measures a captioner with, and `train` never calls: the masks' checks (`check_causal`, `check_padding`), a timed training step (`train_step`), a memory probe (`MemoryProbe`), a run's curves (`plot_run`) and score tables (`score_rows`, `compare_decoding`, `misses_rows`).
- `mmgen.checkpoints`: Atomic safetensors weights that name what differs, RNG state, and the `History` of a run: the files `mmgen.train.fit` writes and reads.
- `mmgen.cli`: `mmgen list`, `mmgen train SYSTEM` (resumable, with one-line errors), `mmgen caption RUN IMAGE`, `mmgen draw RUN PROMPT` and `mmgen retrieve RUN IMAGE`.
- `mmgen.core`: Seeds, devices, the `IN_TEST` switch and the registry of trainable systems.
- `mmgen.data`: Captioned datasets whose ground truth is known: Shapes, AbstractArt, PairedDigits, PairedShapes and the CIFAR-100 loader; collate, grids and a render cache.
- `mmgen.decoding`: Greedy, beam search and sampling (temperature / top-k / top-p) on a KV cache, for any decoder that exposes the cache interface.
- `mmgen.distilled`: A tiny ViT student that a CPU can run, distilled from a frozen CLIP teacher whose embeddings are cached once, with a 2-layer caption decoder — and the three places where the seed's design is wrong, measured and fixed.
- `mmgen.evaluation`: One place for what every system measures: parameter counts, timers, memory, size on disk, retrieval metrics, PSNR, result tables, and the seed-claims ledger that opens every system notebook.
- `mmgen.explorer_drawing`: The explorers' drawing pieces: PNG bytes from PIL alone (`to_png`, `strip`, `paste`, `histogram`), and attention laid over an image's token grid (`token_grid`, `token_map`, `overlay`).
- `mmgen.explorers`: ipywidgets over the trained systems: walk seed 000's shared latent between two scenes or captions, and read the captioner's attention heads — image tokens to image tokens, and each generated word to the image; draw seed 002's art from adjective toggles, query seed 003's pair retrieval both ways, and set seed 001's student beside its teacher.
- `mmgen.losses`: CLIP's InfoNCE with a learnable temperature, SigLIP's sigmoid loss with a learnable scale and bias, and cosine distillation — the first two checked against open_clip, forward and gradients, the third against torch's `CosineEmbeddingLoss`; the rectified-flow path and classifier-free guidance, and a perceptual loss through any frozen network's stages (`feature_loss`).
- `mmgen.moe`: DeepSeekMoE / DeepSeek-V3 feed-forward: shared experts, fine-grained routed SwiGLU experts, top-k routing with an explicit load-balancing loss or bias-based balancing, and a dispatch with no Python loop over tokens or experts.
- `mmgen.paired_retrieval`: A ViT over two images stacked side by side, a text tower, and the CLIP loss, so that "the photo on the left is {a} and the photo on the right is {b}" finds its picture and back — with the seed's left/right flip bug measured and fixed, and its "expected" numbers measured.
- `mmgen.parallel`: How `fit` runs under `torchrun`: joining the process group, FSDP2's sharding of a model's blocks, and the gradient arithmetic that makes sharded and whole parameters step as one process would.
- `mmgen.rope`: RoPE with cached cos/sin, a position offset for KV-cache decoding and a configurable base θ.
- `mmgen.shared_latent`: Seed 000: an image encoder, an image decoder, a text encoder and a text decoder that all meet in one latent — the seed's specification measured, its errors shown, and a corrected design trained.
- `mmgen.shared_latent_speed`: The seed's two designs for seed 000 (its own, as written, and the corrected one of `10_shared_latent`) measured: parameters per component, training memory counted on the `meta` device, and a training step and the inference path timed.
- `mmgen.speed`: Switches for how a run is fed and run on its hardware, device-side shifts, and where a step's time goes: the floor the systems' GPU paths share.
- `mmgen.tokenizers`: Word-level, trainable byte-level BPE and CLIP's BPE behind one interface: `encode`, `decode`, and a batch call that pads and returns a padding mask.
- `mmgen.train`: `fit`: AdamW, warmup + cosine, clipping, accumulation, mixed precision, early stopping, exact resume, and the same loop under `torchrun` with DDP or FSDP2.
- `mmgen.user_data`: Read your own images and captions: `CaptionFolder` (a CSV, JSONL or JSON-array captions file), COCO captions, `load_image` (EXIF orientation, 16-bit grey) and `as_images` for pictures in any form a user holds.
- `mmgen.vq_art`: A VQ-VAE on `AbstractArt`, the seed's codebook collapse and its fixes in one table (ours beside `vector-quantize-pytorch`), adjectives → code indices (the seed's direct per-position head and a MaskGIT prior), three text encoders in one table, and a deployable text → picture path.
- `mmgen.vq_art_deploy`: The pieces `12_vq_art` chooses and shrinks the deployable text → picture path with: three text encoders behind one probe (custom, CLIP's text tower, DistilBERT) at probe and full size, the misspelling and synonym tables they are scored on, and weight-only int8 for any model's `nn.Linear` layers."""

__version__ = "0.0.1"
