"""The small core: domain model, GB/T 28181 IDs, region codes, config and storage."""
