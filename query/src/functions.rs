//! PromQL's functions over floats (placeholder; being written).
