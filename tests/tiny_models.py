"""Tiny randomly initialised video pipelines (LTX-Video, Wan, CogVideoX), built from configs here.

Each is a real diffusers pipeline with every component of the real model family
(transformer, VAE, scheduler, T5 text encoder, tokenizer) at toy width, written with
`save_pretrained` so the backend loads it through its real loading path. Nothing is
downloaded: the tokenizer is a character-level Unigram model built with the `tokenizers`
library inside T5's tokenizer class. Sizes follow diffusers' own fast tests.
"""

from __future__ import annotations

import string
from pathlib import Path


def _stack() -> None:
    # the backend's own import guard (a broken torchvision must not break transformers)
    from dreamcut.backends.diffusers_local import import_stack as _import_stack

    _import_stack()


def _tokenizer():
    _stack()
    from transformers import T5Tokenizer

    # <pad>=0, </s>=1, <unk>=2 like T5; then single characters and word-initial letters, so
    # different prompts always give different token ids.
    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [(c, -3.0) for c in string.ascii_lowercase + string.digits + ".,;:!?'-()"]
    vocab += [("\u2581" + c, -2.5) for c in string.ascii_lowercase]
    return T5Tokenizer(vocab=vocab, extra_ids=0), len(vocab)


def _t5(vocab_size: int, umt5: bool = False):
    import torch
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    torch.manual_seed(0)
    cfg = dict(vocab_size=vocab_size, d_model=32, d_kv=8, d_ff=37, num_layers=2, num_heads=4,
               relative_attention_num_buckets=8)
    if umt5:
        return UMT5EncoderModel(UMT5Config(**cfg))
    return T5EncoderModel(T5Config(**cfg))


def build_ltx(folder: Path) -> Path:
    _stack()
    import torch
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXPipeline, LTXVideoTransformer3DModel

    tokenizer, n = _tokenizer()
    torch.manual_seed(0)
    transformer = LTXVideoTransformer3DModel(
        in_channels=8, out_channels=8, patch_size=1, patch_size_t=1, num_attention_heads=4, attention_head_dim=8,
        cross_attention_dim=32, num_layers=1, caption_channels=32)
    torch.manual_seed(0)
    vae = AutoencoderKLLTXVideo(
        in_channels=3, out_channels=3, latent_channels=8, block_out_channels=(8, 8, 8, 8),
        decoder_block_out_channels=(8, 8, 8, 8), layers_per_block=(1, 1, 1, 1, 1),
        decoder_layers_per_block=(1, 1, 1, 1, 1), spatio_temporal_scaling=(True, True, False, False),
        decoder_spatio_temporal_scaling=(True, True, False, False), decoder_inject_noise=(False,) * 5,
        upsample_residual=(False,) * 4, upsample_factor=(1,) * 4, timestep_conditioning=False, patch_size=1,
        patch_size_t=1, encoder_causal=True, decoder_causal=False)
    pipe = LTXPipeline(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(),
                       text_encoder=_t5(n), tokenizer=tokenizer)
    pipe.save_pretrained(folder)
    return folder


def build_wan(folder: Path) -> Path:
    _stack()
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel

    tokenizer, n = _tokenizer()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=16, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32)
    pipe = WanPipeline(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
                       text_encoder=_t5(n, umt5=True), tokenizer=tokenizer)
    pipe.save_pretrained(folder)
    return folder


def build_cogvideox(folder: Path) -> Path:
    _stack()
    import torch
    from diffusers import AutoencoderKLCogVideoX, CogVideoXDDIMScheduler, CogVideoXPipeline, CogVideoXTransformer3DModel

    tokenizer, n = _tokenizer()
    torch.manual_seed(0)
    transformer = CogVideoXTransformer3DModel(
        num_attention_heads=4, attention_head_dim=8, in_channels=4, out_channels=4, time_embed_dim=2,
        text_embed_dim=32, num_layers=1, sample_width=2, sample_height=2, sample_frames=9, patch_size=2,
        temporal_compression_ratio=4, max_text_seq_length=16)
    torch.manual_seed(0)
    vae = AutoencoderKLCogVideoX(
        in_channels=3, out_channels=3,
        down_block_types=("CogVideoXDownBlock3D",) * 4, up_block_types=("CogVideoXUpBlock3D",) * 4,
        block_out_channels=(8, 8, 8, 8), latent_channels=4, layers_per_block=1, norm_num_groups=2,
        temporal_compression_ratio=4)
    pipe = CogVideoXPipeline(tokenizer=tokenizer, text_encoder=_t5(n), vae=vae, transformer=transformer,
                             scheduler=CogVideoXDDIMScheduler())
    pipe.save_pretrained(folder)
    return folder


def build_wan_i2v(folder: Path) -> Path:
    """Wan 2.2 image-to-video layout: a 36-channel transformer (noise + mask + image latents), no
    CLIP image encoder; it takes a last frame too (first-and-last-frame)."""
    _stack()
    import torch
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanImageToVideoPipeline, WanTransformer3DModel

    tokenizer, n = _tokenizer()
    torch.manual_seed(0)
    vae = AutoencoderKLWan(base_dim=3, z_dim=16, dim_mult=[1, 1, 1, 1], num_res_blocks=1,
                           temperal_downsample=[False, True, True])
    torch.manual_seed(0)
    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=2, attention_head_dim=12, in_channels=36, out_channels=16,
        text_dim=32, freq_dim=256, ffn_dim=32, num_layers=2, cross_attn_norm=True, qk_norm="rms_norm_across_heads",
        rope_max_seq_len=32)
    pipe = WanImageToVideoPipeline(
        transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=7.0),
        text_encoder=_t5(n, umt5=True), tokenizer=tokenizer)
    pipe.save_pretrained(folder)
    return folder


def teach_clip_colour(folder: Path) -> Path:
    """Give the tiny CLIP model saved in `folder` (random weights, e.g. test_video_analysis's
    `_tiny_clip`) hand-set image-tower weights that see the colour of the coloured things in a
    picture, and save it back: a real `CLIPModel` whose image embedding says "red coat" or "green
    coat" (not a random vector), so a test can rank cast identity through the model folder.

    The tower: patch embedding = mean R, G, B of the patch (dims 0-2) plus a constant (dim 5, from the
    position embedding) that keeps LayerNorm's scale steady on grey patches; layer 0's MLP writes
    relu(colour - mean of the other two - 0.3) for red, green and blue (dims 3, 4, 6), zero on grey;
    layer 1 attends uniformly (q = k = 0) and brings those features, centred, to the class token;
    the projection centres them again. Pixels are normalised with mean = std = 0.5, so grey is 0."""
    import json

    _stack()
    import torch
    from transformers import CLIPModel
    from transformers.activations import ACT2FN

    model = CLIPModel.from_pretrained(folder, local_files_only=True)
    vision, cfg = model.vision_model, model.config.vision_config
    d, p = cfg.hidden_size, cfg.patch_size
    feat = (3, 4, 6)  # red, green, blue features
    centre = torch.eye(3) - 1.0 / 3.0
    with torch.no_grad():
        for prm in vision.parameters():
            prm.zero_()
        for ln in [vision.pre_layrnorm, vision.post_layernorm] + [m for layer in vision.encoder.layers
                                                                   for m in (layer.layer_norm1, layer.layer_norm2)]:
            ln.weight.fill_(1.0)
        for c in range(3):
            vision.embeddings.patch_embedding.weight[c, c] = 1.0 / (p * p)
        vision.embeddings.position_embedding.weight[:, 5] = 1.0
        first, second = vision.encoder.layers[0], vision.encoder.layers[1]
        for k, c in enumerate(range(3)):
            others = [o for o in range(3) if o != c]
            first.mlp.fc1.weight[k, c] = 1.0
            first.mlp.fc1.weight[k, others] = -0.5
            first.mlp.fc1.bias[k] = -0.3
            first.mlp.fc2.weight[feat[k], k] = 1.0
        for i, a in enumerate(feat):
            for j, b in enumerate(feat):
                second.self_attn.v_proj.weight[a, b] = centre[i, j]
            second.self_attn.out_proj.weight[a, a] = 1.0
        proj = model.visual_projection.weight
        proj.zero_()
        for i, a in enumerate(feat):
            for j in range(3):
                proj[j, a] = centre[j, i]
    for layer in vision.encoder.layers:
        layer.mlp.activation_fn = ACT2FN["relu"]
    cfg.hidden_act = "relu"
    model.save_pretrained(folder)
    (Path(folder) / "preprocessor_config.json").write_text(json.dumps({"image_mean": [0.5] * 3, "image_std": [0.5] * 3}))
    return Path(folder)
