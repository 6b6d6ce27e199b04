"""The passage index: what retrieval asks of storage (search.PassageIndex) and the index on this
machine that answers it, kept in step with the seeds folder (local.sync_index).

Its parts: layout (the files of a generation, saved and loaded side by side), check (whether a
generation holds together; verify_index), reader (LocalIndex, a generation opened for
questions), writer (build_generation), generations (which one is current, the build lock, the
swap), local (sync and the public names); milvus, milvus_store and milvus_catalogue
(index.engine: milvus, imported only then: an index answered from Milvus alone).

May import retrieval.text, retrieval.dates, retrieval.model, retrieval.corpus and
retrieval.passages; never ranking or the pipeline (retrieval.live, above both, keeps an index in
step with its folder)."""
