"""Reports: progress against the threshold, by place and by day, every figure traceable to support events."""
