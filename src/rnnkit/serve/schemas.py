"""What each endpoint takes: pydantic models, so that a wrong field is a 422 naming it (and /docs shows
them). Limits that the command line sets (how many texts, how long) are checked by the server
against its ``Limits``; the ranges that never change are here."""

from typing import Dict, List, Optional, Union

from pydantic import BaseModel, ConfigDict, Field


class Request(BaseModel):
    model_config = ConfigDict(extra="forbid")  # a misspelled field is an error, not a silent default


class TextsRequest(Request):
    texts: List[str] = Field(min_length=1, description="the inputs, one text each")


class GenerateRequest(Request):
    prompt: str = Field("", description="the text to continue; empty starts from a line break")
    max_tokens: int = Field(200, ge=0, description="tokens to generate (at most the server's --max-new-tokens)")
    temperature: float = Field(1.0, ge=0, allow_inf_nan=False, description="0 = greedy")
    top_k: int = Field(0, ge=0, description="sample among the k likeliest tokens; 0 = all")
    top_p: float = Field(1.0, gt=0, le=1, description="nucleus sampling: the smallest set of this probability")
    seed: Optional[int] = Field(None, ge=0, lt=2**63, description="the same seed gives the same text")
    stop_at_eos: bool = Field(False, description="stop at the end-of-sequence token (word and BPE tokenizers)")
    stream: bool = Field(False, description="server-sent events, one per piece of text, as it is generated")


class TagRequest(Request):
    texts: Optional[List[str]] = Field(None, min_length=1, description="sentences of plain text, tokenized here")
    tokens: Optional[List[List[str]]] = Field(None, min_length=1, description="sentences already tokenized")


class TranslateRequest(TextsRequest):
    beam_size: Optional[int] = Field(None, ge=1, description="the run's decode.beam_size if not given")
    n_best: int = Field(1, ge=1, description="hypotheses per text, best first (at most the beam)")
    greedy: bool = Field(False, description="greedy decoding instead of beam search")
    length_penalty: Optional[float] = Field(None, ge=0, allow_inf_nan=False)
    attention: bool = Field(False, description="the best hypothesis' attention weights, for a heatmap")


class ForecastRequest(Request):
    series: Dict[str, List[Union[float, str, None]]] = Field(
        description="columns by name, as the run's CSV had them: its time column, targets and covariates")
    alerts: bool = Field(False, description="one-step-ahead intervals over the series: the rows outside them")
    level: float = Field(0.95, gt=0, lt=1, description="the alerts' interval level")
