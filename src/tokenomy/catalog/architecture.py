"""Model architecture: parsed from a Hugging Face ``config.json`` (or GGUF metadata), parameters computed.

Parameter counts are *computed* from the shapes, never copied, so that a model added from its config alone
gets correct totals; tests hold them within 2% of the published figures.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict


class Architecture(BaseModel):
    """The shapes of a decoder-only transformer that matter for memory, FLOPs and bytes moved."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model_type: str
    layers: int
    hidden_size: int
    heads: int
    kv_heads: int
    head_dim: int
    vocab_size: int
    tied_embeddings: bool = False
    attention: Literal["gqa", "mla"] = "gqa"
    attention_bias: bool = False
    attn_output_gate: bool = False
    # Dense FFN width (SwiGLU: gate, up, down); used by dense layers of MoE models too.
    intermediate_size: int = 0
    # MLA (DeepSeek, Kimi, GLM-5)
    q_lora_rank: int = 0
    kv_lora_rank: int = 0
    qk_nope_head_dim: int = 0
    qk_rope_head_dim: int = 0
    v_head_dim: int = 0
    # DeepSeek sparse attention indexer (V3.2, GLM-5): each query attends to at most index_topk tokens.
    index_heads: int = 0
    index_head_dim: int = 0
    index_topk: int = 0
    # Layers that do not keep a full KV cache: sliding-window (gpt-oss) and linear attention (Qwen3.5).
    sliding_window: int = 0
    sliding_layers: int = 0
    linear_layers: int = 0
    linear_key_heads: int = 0
    linear_value_heads: int = 0
    linear_key_head_dim: int = 0
    linear_value_head_dim: int = 0
    linear_conv_kernel: int = 0
    # Mixture of experts
    experts: int = 0
    experts_per_token: int = 0
    shared_experts: int = 0
    expert_ffn: int = 0
    shared_expert_ffn: int = 0
    dense_layers: int = 0
    expert_bias: bool = False
    # The published 4-bit checkpoint quantizes the routed experts only; attention stays 16-bit (gpt-oss, Kimi).
    experts_only_quantized: bool = False
    # Multi-token-prediction heads shipped with the weights (DeepSeek-V3/R1: 1), usable as MTP speculative decoding.
    mtp_layers: int = 0

    # ---- derived shapes -------------------------------------------------------------------------------
    @property
    def is_moe(self) -> bool:
        return self.experts > 0

    @property
    def moe_layers(self) -> int:
        return self.layers - self.dense_layers if self.is_moe else 0

    @property
    def full_attention_layers(self) -> int:
        """Layers whose KV cache grows with the whole context."""
        return self.layers - self.linear_layers - self.sliding_layers

    @property
    def qk_head_dim(self) -> int:
        return self.qk_nope_head_dim + self.qk_rope_head_dim if self.attention == "mla" else self.head_dim

    # ---- parameters per block ---------------------------------------------------------------------------
    def attention_params(self) -> int:
        """Parameters of one softmax-attention block (projections, biases, indexer)."""
        h = self.hidden_size
        if self.attention == "mla":
            qk = self.qk_nope_head_dim + self.qk_rope_head_dim
            q = (
                h * self.q_lora_rank + self.q_lora_rank * self.heads * qk
                if self.q_lora_rank
                else h * self.heads * qk
            )
            kv_a = h * (self.kv_lora_rank + self.qk_rope_head_dim)
            kv_b = self.kv_lora_rank * self.heads * (self.qk_nope_head_dim + self.v_head_dim)
            o = self.heads * self.v_head_dim * h
            norms = self.q_lora_rank + self.kv_lora_rank
            indexer = 0
            if self.index_heads:
                q_in = self.q_lora_rank or h
                indexer = q_in * self.index_heads * self.index_head_dim + h * self.index_head_dim
                indexer += h * self.index_heads
            return q + kv_a + kv_b + o + norms + indexer
        q_out = self.heads * self.head_dim * (2 if self.attn_output_gate else 1)
        kv_out = 2 * self.kv_heads * self.head_dim
        params = h * q_out + h * kv_out + self.heads * self.head_dim * h
        if self.attention_bias:
            params += self.heads * self.head_dim + kv_out + h
        return params

    def linear_attention_params(self) -> int:
        """Parameters of one linear-attention (Gated DeltaNet) block."""
        h = self.hidden_size
        k = self.linear_key_heads * self.linear_key_head_dim
        v = self.linear_value_heads * self.linear_value_head_dim
        proj = h * (2 * k + 2 * v) + h * 2 * self.linear_value_heads
        conv = (2 * k + v) * self.linear_conv_kernel
        return proj + conv + v * h + 2 * self.linear_value_heads

    def dense_ffn_params(self) -> int:
        return 3 * self.hidden_size * self.intermediate_size

    def expert_params(self) -> int:
        """One routed expert (SwiGLU), with biases where the model has them."""
        p = 3 * self.hidden_size * self.expert_ffn
        if self.expert_bias:
            p += 2 * self.expert_ffn + self.hidden_size
        return p

    def shared_expert_params(self) -> int:
        width = self.shared_expert_ffn or self.shared_experts * self.expert_ffn
        return 3 * self.hidden_size * width

    def router_params(self) -> int:
        return self.hidden_size * self.experts

    # ---- totals -------------------------------------------------------------------------------------------
    def embedding_params(self) -> int:
        return self.vocab_size * self.hidden_size

    def lm_head_params(self) -> int:
        return 0 if self.tied_embeddings else self.vocab_size * self.hidden_size

    def mixer_params_total(self) -> int:
        softmax_layers = self.layers - self.linear_layers
        return softmax_layers * self.attention_params() + self.linear_layers * self.linear_attention_params()

    def ffn_params_total(self) -> int:
        if not self.is_moe:
            return self.layers * self.dense_ffn_params()
        per_moe = self.experts * self.expert_params() + self.shared_expert_params() + self.router_params()
        return self.dense_layers * self.dense_ffn_params() + self.moe_layers * per_moe

    def ffn_params_active(self) -> int:
        if not self.is_moe:
            return self.ffn_params_total()
        per_moe = self.experts_per_token * self.expert_params() + self.shared_expert_params()
        return self.dense_layers * self.dense_ffn_params() + self.moe_layers * (
            per_moe + self.router_params()
        )

    def norm_params(self) -> int:
        return (2 * self.layers + 1) * self.hidden_size

    @property
    def total_params(self) -> int:
        """All weights of the main model (no MTP/draft layers, no vision tower)."""
        return (
            self.embedding_params()
            + self.lm_head_params()
            + self.mixer_params_total()
            + self.ffn_params_total()
            + self.norm_params()
        )

    @property
    def active_params(self) -> int:
        """Weights used per token in matrix products: everything but the embedding lookup and idle experts.

        This is the convention of the gpt-oss model card (5.1B active = unembedding included, embedding not);
        a tied embedding counts once, as the output projection.
        """
        head = self.vocab_size * self.hidden_size
        return head + self.mixer_params_total() + self.ffn_params_active() + self.norm_params()


def _text_config(cfg: dict[str, Any]) -> dict[str, Any]:
    """Multimodal configs (Kimi-K2.5, Qwen3.5) nest the language model under ``text_config``."""
    text = cfg.get("text_config")
    if isinstance(text, dict):
        merged = dict(text)
        merged.setdefault("tie_word_embeddings", cfg.get("tie_word_embeddings", False))
        return merged
    return cfg


def architecture_from_hf_config(cfg: dict[str, Any]) -> Architecture:
    """Read the shapes out of a Hugging Face config (Llama, Qwen3/3.5, DeepSeek V3/R1/V3.2, Kimi, GLM-5,
    gpt-oss, MiniMax-M2 families)."""
    c = _text_config(cfg)
    model_type = str(c.get("model_type") or cfg.get("model_type") or "unknown")
    h = int(c["hidden_size"])
    heads = int(c["num_attention_heads"])
    layers = int(c["num_hidden_layers"])
    head_dim = int(c.get("head_dim") or h // heads)
    fields: dict[str, Any] = dict(
        model_type=model_type,
        layers=layers,
        hidden_size=h,
        heads=heads,
        kv_heads=int(c.get("num_key_value_heads") or heads),
        head_dim=head_dim,
        vocab_size=int(c["vocab_size"]),
        tied_embeddings=bool(c.get("tie_word_embeddings", False)),
        attention_bias=bool(c.get("attention_bias", False)),
        attn_output_gate=bool(c.get("attn_output_gate", False)),
        intermediate_size=int(c.get("intermediate_size") or 0),
    )
    if c.get("kv_lora_rank"):
        nope = int(c.get("qk_nope_head_dim") or 0)
        rope = int(c.get("qk_rope_head_dim") or (int(c.get("qk_head_dim", 0)) - nope))
        fields.update(
            attention="mla",
            q_lora_rank=int(c.get("q_lora_rank") or 0),
            kv_lora_rank=int(c["kv_lora_rank"]),
            qk_nope_head_dim=nope,
            qk_rope_head_dim=rope,
            v_head_dim=int(c.get("v_head_dim") or nope),
            head_dim=nope + rope,
        )
        if c.get("index_n_heads"):
            fields.update(
                index_heads=int(c["index_n_heads"]),
                index_head_dim=int(c["index_head_dim"]),
                index_topk=int(c["index_topk"]),
            )
    layer_types = c.get("layer_types") or []
    if layer_types:
        fields["linear_layers"] = sum(1 for t in layer_types if t == "linear_attention")
        fields["sliding_layers"] = sum(1 for t in layer_types if t == "sliding_attention")
        if fields["sliding_layers"]:
            fields["sliding_window"] = int(c.get("sliding_window") or 0)
    if fields.get("linear_layers"):
        fields.update(
            linear_key_heads=int(c["linear_num_key_heads"]),
            linear_value_heads=int(c["linear_num_value_heads"]),
            linear_key_head_dim=int(c["linear_key_head_dim"]),
            linear_value_head_dim=int(c["linear_value_head_dim"]),
            linear_conv_kernel=int(c.get("linear_conv_kernel_dim") or 4),
        )
    fields["mtp_layers"] = int(c.get("num_nextn_predict_layers") or 0)
    experts = int(c.get("n_routed_experts") or c.get("num_local_experts") or c.get("num_experts") or 0)
    if experts:
        if model_type in ("gpt_oss", "minimax_m2", "minimax"):
            expert_ffn = int(c["intermediate_size"])  # these configs name the expert width intermediate_size
        else:
            expert_ffn = int(c["moe_intermediate_size"])
        shared_ffn = int(c.get("shared_expert_intermediate_size") or c.get("shared_intermediate_size") or 0)
        fields.update(
            experts=experts,
            experts_per_token=int(c.get("num_experts_per_tok") or c.get("experts_per_token")),
            shared_experts=int(c.get("n_shared_experts") or (1 if shared_ffn else 0)),
            expert_ffn=expert_ffn,
            shared_expert_ffn=shared_ffn,
            dense_layers=int(c.get("first_k_dense_replace") or 0),
            expert_bias=model_type == "gpt_oss",
        )
        if model_type == "gpt_oss":
            fields["attention_bias"] = True
        fields["experts_only_quantized"] = _attention_left_unquantized(c.get("quantization_config") or {})
    return Architecture(**fields)


def _attention_left_unquantized(quant: dict[str, Any]) -> bool:
    """True when a checkpoint's quantization config lists the attention modules among those it skips."""
    skipped = list(quant.get("modules_to_not_convert") or []) + list(quant.get("ignore") or [])
    return any("self_attn" in str(name) for name in skipped)


def architecture_from_gguf(path: str | Path) -> Architecture:
    """Read a llama-family GGUF file's metadata (needs the optional ``gguf`` package)."""
    import gguf  # optional dependency: `pip install tokenomy[gguf]`

    reader = gguf.GGUFReader(str(path))

    def field(key: str) -> Any:
        return reader.fields[key].contents()

    arch = str(field("general.architecture"))
    names = {t.name for t in reader.tensors}
    h = int(field(f"{arch}.embedding_length"))
    heads = int(field(f"{arch}.attention.head_count"))
    vocab = int(field(f"{arch}.vocab_size")) if f"{arch}.vocab_size" in reader.fields else None
    if vocab is None:
        vocab = len(reader.fields["tokenizer.ggml.tokens"].contents())
    return Architecture(
        model_type=arch,
        layers=int(field(f"{arch}.block_count")),
        hidden_size=h,
        heads=heads,
        kv_heads=int(field(f"{arch}.attention.head_count_kv")),
        head_dim=h // heads,
        vocab_size=vocab,
        tied_embeddings="output.weight" not in names,
        intermediate_size=int(field(f"{arch}.feed_forward_length")),
    )
