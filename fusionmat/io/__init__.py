"""Reading and writing files: photos and mattes in, atomic outputs out, folders and fsspec URLs."""
