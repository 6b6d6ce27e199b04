"""The reference: the same model through torch and sentence-transformers, as it was trained.

Tests check the ONNX path against it, and `python -m eval --backend torch` scores it.
The bot never imports this module: importing torch alone takes seconds.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from functools import cache

from retrieval.model.onnx_model import Progress, TokenStates
from retrieval.model.packages import DEFAULT_MODEL, ModelError, resolve_model


class TorchModel:
    """sentence-transformers' model behind the interface of OnnxModel."""

    format = "torch-fp32"

    def __init__(self, name: str | None) -> None:
        os.environ.setdefault("HF_HUB_OFFLINE", "1")
        os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")
        os.environ.setdefault("HF_HUB_DISABLE_PROGRESS_BARS", "1")
        path = resolve_model(name)
        import transformers

        transformers.logging.disable_progress_bar()
        from sentence_transformers import SentenceTransformer

        try:
            self.model = SentenceTransformer(path, device="cpu")
        except (OSError, ValueError) as exc:  # the hub is off: an unknown name ends up here too
            reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            raise ModelError(f"{name}: cannot load the model ({reason})") from None
        self.name = name or DEFAULT_MODEL
        self.dimension = self.model.get_embedding_dimension()

    def embed(self, texts: Sequence[str], progress: Progress | None = None) -> list[TokenStates]:
        outputs = self.model.encode(
            list(texts), batch_size=32, output_value=None, show_progress_bar=False
        )
        states = []
        for output in outputs:
            length = int(output["attention_mask"].sum())
            pieces = self.model.tokenizer.convert_ids_to_tokens(output["input_ids"][:length])
            vectors = output["token_embeddings"][:length].float().numpy()
            states.append(TokenStates(tuple(pieces), vectors))
        if progress:
            progress(len(texts))
        return states


@cache
def load_torch_model(name: str | None = None) -> TorchModel:
    return TorchModel(name)
