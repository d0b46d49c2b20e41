"""Data: reading text files, vocabularies and tokenizers, contiguous streams for language models."""

from .text import DataError, read_text
from .tokenizer import BPETokenizer, CharTokenizer, WordTokenizer, fit_tokenizer, tokenizer_from_json

__all__ = ["DataError", "read_text", "CharTokenizer", "WordTokenizer", "BPETokenizer", "fit_tokenizer",
           "tokenizer_from_json"]
