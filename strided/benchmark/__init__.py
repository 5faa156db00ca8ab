"""strided's speed benchmark against PyTorch (``strided bench``) and the timing helpers benchmarks/ reuses
(see benchmarks/README.md)."""
