"""Content Credentials (C2PA) on every take and every render, plus the disclosure and credits.

What it does:
- `sign_take` embeds a signed manifest in a take: a `c2pa.created` action with the IPTC
  digital source type `trainedAlgorithmicMedia`, the generator (backend, model, dreamcut
  version), the seed and (unless the spec switches it off) the prompt. A take that already
  carries a provider's manifest keeps it as its `parentOf` ingredient; one animated from its cast
  keyframe names that image as a `componentOf` ingredient (its SHA-256 in the take assertion). Clips imported as
  camera footage say `digitalCapture` (`take_source_type`), and a render made only of them is
  `compositeCapture`, not AI-generated.
- `sign_render` embeds a manifest in a render that lists every take of the timeline as a
  `componentOf` ingredient (their manifests travel along, so prompt -> take -> final frame
  can be followed) with the edit actions; an upscale names its master as `parentOf`.
- `write_sidecar` signs formats that cannot embed a manifest (.otio / .xml / .edl ...).
- `verify` reads and validates a file and explains the chain in plain words.
- `disclosure_metadata`, `credits_text`, `end_card_image` give the renderer what it needs
  to say "this is AI-generated" in the file's metadata and on an end card.

It must never put a private key, an API key, a token or a home-directory path into a
manifest, a message or a log, and never rewrite a file in place (temp file, then rename).

The package, one concept a module:

- `manifest`     -- the C2PA vocabulary (source types, assertion labels, formats) and reading
                    what a file already carries;
- `identity`     -- who signs: the project's certificate, made on first use, or the user's;
- `takes`        -- the timeline's takes and what the catalog knows of each;
- `sign`         -- embedding manifests in takes and renders;
- `sidecar`      -- credentials beside files that cannot embed them (exports);
- `verification` -- `verify` and its plain-words report;
- `credits`      -- disclosure tags, credits text, end card.
"""

from __future__ import annotations

from dreamcut.provenance.credits import (CreditsFacts, add_disclosure_tags, credits_facts, credits_text,
                                         disclosure_metadata, end_card_clip, end_card_image)
from dreamcut.provenance.identity import (CERT_ENV, KEY_ENV, SigningIdentity, keys_dir, make_project_certificate,
                                          signing_identity)
from dreamcut.provenance.manifest import (ALGORITHMIC_MEDIA, COMPOSITE_CAPTURE, COMPOSITE_SYNTHETIC,
                                          COMPOSITE_WITH_TRAINED_MEDIA, DIGITAL_CAPTURE, PROCEDURAL_BACKENDS,
                                          RENDER_ASSERTION, SIDECAR_FORMAT, SIDECAR_JSON_SUFFIX, TAKE_ASSERTION,
                                          TRAINED_ALGORITHMIC_MEDIA, active_manifest, assertion, can_embed,
                                          is_ai_take, json_sidecar_path, mime_for, provider_credentials,
                                          read_manifest_store, sidecar_path, take_source_type)
from dreamcut.provenance.sidecar import sign_exports, write_sidecar
from dreamcut.provenance.sign import sign_render, sign_take
from dreamcut.provenance.takes import TimelineTake, timeline_takes
from dreamcut.provenance.verification import IngredientFacts, VerifyReport, verify

__all__ = ["ALGORITHMIC_MEDIA", "CERT_ENV", "COMPOSITE_CAPTURE", "COMPOSITE_SYNTHETIC", "COMPOSITE_WITH_TRAINED_MEDIA",
           "CreditsFacts", "DIGITAL_CAPTURE", "IngredientFacts", "KEY_ENV", "PROCEDURAL_BACKENDS", "RENDER_ASSERTION",
           "SIDECAR_FORMAT", "SIDECAR_JSON_SUFFIX", "SigningIdentity", "TAKE_ASSERTION", "TRAINED_ALGORITHMIC_MEDIA",
           "TimelineTake", "VerifyReport", "active_manifest", "add_disclosure_tags", "assertion", "can_embed",
           "credits_facts", "credits_text", "disclosure_metadata", "end_card_clip", "end_card_image", "is_ai_take",
           "json_sidecar_path", "keys_dir", "make_project_certificate", "mime_for", "provider_credentials",
           "read_manifest_store", "sidecar_path", "sign_exports", "sign_render", "sign_take", "signing_identity",
           "take_source_type", "timeline_takes", "verify", "write_sidecar"]
