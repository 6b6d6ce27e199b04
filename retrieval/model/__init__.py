"""The embedding model: its packaged files, the ONNX export and runtime, and the paragraph store.

May import retrieval.text and retrieval.cache; never torch on the question path."""
