"""Scale-out: workers own shards of cameras through JetStream KV leases; an elected scheduler writes."""
