"""From a photo to its alpha matte: the per-image pipeline, the people filter, upsampling, refinement and
foreground colours."""
