"""Data: the Arrow shard store, file interchange, labelling and dataset building (no Ray)."""
