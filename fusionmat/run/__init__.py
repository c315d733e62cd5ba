"""Running many images: the per-image core, the batch runner on threads or Ray, video."""
