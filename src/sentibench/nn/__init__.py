"""The torch modules of the classic nets: one file per architecture, each an nn.Module, its
Config (dataclass) and build(config, vectors, pad_index, freeze_embeddings). They take word ids
and lengths; they know nothing of data or training. A registry line naming the file
(ModelSpec(..., module="sentibench.nn.NAME")) makes it a model: recipes/classic.py trains it."""
