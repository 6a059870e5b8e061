"""Registry: regions, sites, camera models and cameras; bulk import and export; rollups."""
