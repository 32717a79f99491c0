"""igtools benchmarks: each reports times and ratios to a baseline measured in the same run."""
