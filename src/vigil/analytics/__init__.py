"""Analytics: motion, person/vehicle detection on motion regions, zones, privacy masks, events."""
