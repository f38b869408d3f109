"""The torch modules of the classic nets: one file per architecture, each an nn.Module and its
Config (dataclass). They take word ids and lengths; they know nothing of data or training."""
