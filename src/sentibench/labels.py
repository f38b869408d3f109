"""Label names: a dataset's classes in label-id order. Data without any (the IMDB cache, the
bundled sample, run records and model folders from before k classes) has the binary pair."""

BINARY_LABELS: tuple[str, ...] = ("negative", "positive")
