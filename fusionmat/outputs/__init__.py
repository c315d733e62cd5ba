"""What is written for one image: the output plan, composites on new backgrounds, resume stamps."""
