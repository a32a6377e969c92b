"""GPU cost of local generation: LTX-Video and Wan 2.1 1.3B at full size, with random weights.

What it measures, per model, bf16, with and without `torch.compile` of the transformer:
- seconds of wall time per second of 720p video (LTX 1280x704 @ 24 fps, 121 frames;
  Wan 1280x720 @ 16 fps, 81 frames), at the model's default number of steps;
- peak VRAM (torch.cuda.max_memory_allocated).

The architectures are the real ones (configs written inline below, same layers, widths and
text encoders as the published checkpoints), so the compute is the real compute; the
weights are random because nothing is downloaded here. The pixels are meaningless.

Method: each configuration is warmed up once (compilation happens there), then run at two
step counts (2 and --steps; the fastest of --repeats runs each); wall time is linear in
steps, so the fit gives the fixed cost
(text encoding + VAE decode) and the cost per step, and the table reports the take at the
family's default steps (LTX 40, Wan 50) from that fit, next to the measured runs.

Without a CUDA device (or with --smoke) it runs tiny versions of the same pipelines on the
CPU to prove the harness works, and its table says "no GPU: not measured".

    python benchmarks/gpu_generate.py            # GPU if present, else smoke
    python benchmarks/gpu_generate.py --smoke
    python benchmarks/gpu_generate.py --models wan --steps 10 --no-compile

Writes bench-results/gpu_generate.json.
"""

from __future__ import annotations

import argparse
import gc
import json
import platform
import string
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "src"))

DEFAULT_STEPS = {"ltx": 40, "wan": 50}
TAKE = {  # (width, height, frames, fps): about five seconds of 720p in each model's own rules
    "ltx": (1280, 704, 121, 24),
    "wan": (1280, 720, 81, 16),
}
SMOKE_TAKE = {"ltx": (64, 64, 9, 24), "wan": (64, 64, 9, 16)}
PROMPT = ("A slow dolly down a 1980s high-school corridor, lockers on both sides, afternoon light, "
          "the camera glides into a classroom. Style: vintage 35mm film, grain, warm highlights.")


def tokenizer():
    """A character-level T5 tokenizer (built with `tokenizers`): ids stay inside any T5 vocabulary."""
    from transformers import T5Tokenizer

    vocab = [("<pad>", 0.0), ("</s>", 0.0), ("<unk>", 0.0), ("\u2581", -2.0)]
    vocab += [(c, -3.0) for c in string.ascii_lowercase + string.digits + ".,;:!?'-()"]
    vocab += [("\u2581" + c, -2.5) for c in string.ascii_lowercase]
    return T5Tokenizer(vocab=vocab, extra_ids=0)


# -- the real architectures (published configs) ------------------------------------------------


def t5_xxl(umt5: bool):
    """google/t5-v1_1-xxl (LTX-Video) / google/umt5-xxl (Wan): 24 layers, d_model 4096, gated GELU."""
    from transformers import T5Config, T5EncoderModel, UMT5Config, UMT5EncoderModel

    cfg = dict(d_model=4096, d_kv=64, d_ff=10240, num_layers=24, num_heads=64, relative_attention_num_buckets=32,
               relative_attention_max_distance=128, feed_forward_proj="gated-gelu", layer_norm_epsilon=1e-6)
    if umt5:
        return UMT5EncoderModel(UMT5Config(vocab_size=256384, **cfg))
    return T5EncoderModel(T5Config(vocab_size=32128, **cfg))


def ltx_full():
    """Lightricks/LTX-Video (0.9.x): 28-layer DiT, 32 heads x 64, VAE 32x spatial / 8x temporal, 128 latent channels."""
    from diffusers import AutoencoderKLLTXVideo, FlowMatchEulerDiscreteScheduler, LTXPipeline, LTXVideoTransformer3DModel

    transformer = LTXVideoTransformer3DModel(
        in_channels=128, out_channels=128, patch_size=1, patch_size_t=1, num_attention_heads=32, attention_head_dim=64,
        cross_attention_dim=2048, num_layers=28, activation_fn="gelu-approximate", qk_norm="rms_norm_across_heads",
        norm_elementwise_affine=False, norm_eps=1e-6, caption_channels=4096, attention_bias=True,
        attention_out_bias=True)
    vae = AutoencoderKLLTXVideo()  # diffusers' defaults are the published LTX-Video VAE
    scheduler = FlowMatchEulerDiscreteScheduler(use_dynamic_shifting=True, base_shift=0.95, max_shift=2.05,
                                                base_image_seq_len=1024, max_image_seq_len=4096, shift_terminal=0.1)
    return LTXPipeline(transformer=transformer, vae=vae, scheduler=scheduler, text_encoder=t5_xxl(False),
                       tokenizer=tokenizer())


def wan_full():
    """Wan-AI/Wan2.1-T2V-1.3B: 30 layers, 12 heads x 128, ffn 8960, Wan VAE (8x spatial, 4x temporal), UMT5-XXL."""
    from diffusers import AutoencoderKLWan, FlowMatchEulerDiscreteScheduler, WanPipeline, WanTransformer3DModel

    transformer = WanTransformer3DModel(
        patch_size=(1, 2, 2), num_attention_heads=12, attention_head_dim=128, in_channels=16, out_channels=16,
        text_dim=4096, freq_dim=256, ffn_dim=8960, num_layers=30, cross_attn_norm=True,
        qk_norm="rms_norm_across_heads", eps=1e-6, rope_max_seq_len=1024)
    vae = AutoencoderKLWan()  # diffusers' defaults are the published Wan 2.1 VAE
    return WanPipeline(transformer=transformer, vae=vae, scheduler=FlowMatchEulerDiscreteScheduler(shift=5.0),
                       text_encoder=t5_xxl(True), tokenizer=tokenizer())


def ltx_tiny():
    sys.path.insert(0, str(ROOT / "tests"))
    import tempfile

    import tiny_models
    from diffusers import LTXPipeline

    d = Path(tempfile.mkdtemp(prefix="bench-ltx-"))
    return LTXPipeline.from_pretrained(tiny_models.build_ltx(d / "ltx"), local_files_only=True)


def wan_tiny():
    sys.path.insert(0, str(ROOT / "tests"))
    import tempfile

    import tiny_models
    from diffusers import WanPipeline

    d = Path(tempfile.mkdtemp(prefix="bench-wan-"))
    return WanPipeline.from_pretrained(tiny_models.build_wan(d / "wan"), local_files_only=True)


# -- measuring -------------------------------------------------------------------------------


def run_once(torch, pipe, family: str, take: tuple[int, int, int, int], steps: int) -> float:
    width, height, frames, fps = take
    kw = dict(prompt=PROMPT, negative_prompt="blurry, distorted", width=width, height=height, num_frames=frames,
              num_inference_steps=steps, generator=torch.Generator("cpu").manual_seed(0), output_type="np")
    if family == "ltx":
        kw["frame_rate"] = fps
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    with torch.inference_mode():
        pipe(**kw)
    if torch.cuda.is_available():
        torch.cuda.synchronize()
    return time.perf_counter() - t0


def measure(torch, family: str, build, take, steps: int, compile_: bool, device: str, repeats: int = 1) -> dict:
    if device == "cuda":
        torch.cuda.empty_cache()
        with torch.device("cuda"):
            pipe = build()
        pipe.to(dtype=torch.bfloat16)
        pipe.vae.to(dtype=torch.float32 if family == "wan" else torch.bfloat16)  # Wan's VAE runs in fp32
    else:
        pipe = build()
    pipe.set_progress_bar_config(disable=True)
    if compile_:
        pipe.transformer.compile()
    width, height, frames, fps = take
    seconds_of_video = frames / fps
    t_warm = run_once(torch, pipe, family, take, 2)  # compiles, allocates, warms kernels
    if device == "cuda":
        torch.cuda.reset_peak_memory_stats()
    # the fastest of `repeats` runs: other load on the machine only ever adds time
    t_small = min(run_once(torch, pipe, family, take, 2) for _ in range(repeats))
    t_big = min(run_once(torch, pipe, family, take, steps) for _ in range(repeats))
    peak = torch.cuda.max_memory_allocated() / 2**30 if device == "cuda" else None
    per_step = (t_big - t_small) / (steps - 2)
    if per_step <= 0:  # timing noise swamped the difference: fall back to the mean per step
        per_step = t_big / steps
    fixed = max(0.0, t_small - 2 * per_step)
    default = DEFAULT_STEPS[family]
    take_s = fixed + default * per_step
    result = {"family": family, "compile": compile_, "device": device, "width": width, "height": height,
              "frames": frames, "fps": fps, "video_seconds": round(seconds_of_video, 3),
              "warmup_s": round(t_warm, 2), "run_2_steps_s": round(t_small, 2), f"run_{steps}_steps_s": round(t_big, 2),
              "per_step_s": round(per_step, 3), "fixed_s": round(fixed, 2), "default_steps": default,
              "take_s_at_default_steps": round(take_s, 1),
              "wall_s_per_video_s": round(take_s / seconds_of_video, 1),
              "peak_vram_gib": round(peak, 1) if peak is not None else None}
    del pipe
    gc.collect()
    if device == "cuda":
        torch.cuda.empty_cache()
    return result


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--smoke", action="store_true", help="tiny pipelines on the CPU (proves the harness runs)")
    ap.add_argument("--models", default="ltx,wan", help="comma-separated: ltx, wan")
    ap.add_argument("--steps", type=int, default=6, help="steps of the second timed run (the fit uses 2 and this)")
    ap.add_argument("--no-compile", action="store_true", help="skip the torch.compile rows")
    ap.add_argument("--repeats", type=int, default=None, help="timed runs per step count, fastest kept "
                                                               "(default: 1 on a GPU, 3 in smoke mode)")
    ap.add_argument("--out", type=Path, default=ROOT / "bench-results" / "gpu_generate.json")
    args = ap.parse_args(argv)

    from dreamcut.backends.diffusers_local import import_stack as _import_stack

    torch, _ = _import_stack()
    has_gpu = torch.cuda.is_available()
    smoke = args.smoke or not has_gpu
    device = "cpu" if smoke else "cuda"
    families = [f.strip() for f in args.models.split(",") if f.strip()]
    builders = {"ltx": ltx_tiny if smoke else ltx_full, "wan": wan_tiny if smoke else wan_full}
    takes = SMOKE_TAKE if smoke else TAKE
    compiles = [False] if (args.no_compile or smoke) else [False, True]
    steps = 8 if smoke else max(3, args.steps)
    repeats = args.repeats or (3 if smoke else 1)
    gpu_name = torch.cuda.get_device_name(0) if has_gpu else None

    rows = []
    for family in families:
        for c in compiles:
            print(f"measuring {family} {'compiled' if c else 'eager'} on {device} ...", file=sys.stderr, flush=True)
            rows.append(measure(torch, family, builders[family], takes[family], steps, c, device, repeats))

    print(f"\n### Local generation cost ({'smoke: tiny configs on CPU' if smoke else gpu_name})\n")
    print("| model | take | compile | s wall per s of video | take at default steps | per step | peak VRAM |")
    print("|---|---|---|---|---|---|---|")
    if smoke:
        for family in families:
            w, h, n, fps = TAKE[family]
            for c in ([False, True] if not args.no_compile else [False]):
                print(f"| {family} (full size) | {w}x{h}, {n} frames @ {fps} fps | {'yes' if c else 'no'} "
                      f"| no GPU: not measured | no GPU: not measured | no GPU: not measured | no GPU: not measured |")
    for r in rows:
        label = f"{r['family']} ({'tiny, CPU smoke' if smoke else 'full size, random weights'})"
        vram = f"{r['peak_vram_gib']} GiB" if r["peak_vram_gib"] is not None else "n/a (CPU)"
        print(f"| {label} | {r['width']}x{r['height']}, {r['frames']} frames @ {r['fps']} fps "
              f"| {'yes' if r['compile'] else 'no'} | {r['wall_s_per_video_s']} "
              f"| {r['take_s_at_default_steps']} s ({r['default_steps']} steps) | {r['per_step_s']} s | {vram} |")
    if smoke:
        print("\nno GPU: not measured. The full-size rows need CUDA; the smoke rows (tiny models) only show "
              "that the harness runs and are not comparable to anything.")

    payload = {"mode": "smoke" if smoke else "gpu", "measured": not smoke, "gpu": gpu_name,
               "torch": torch.__version__, "python": platform.python_version(), "dtype": "bf16" if not smoke else "fp32",
               "rows": rows, "note": "random weights, real architectures; take time fitted from 2-step and "
                                     f"{steps}-step runs"}
    args.out.parent.mkdir(parents=True, exist_ok=True)
    from dreamcut.media import write_text_atomic

    write_text_atomic(args.out, json.dumps(payload, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
