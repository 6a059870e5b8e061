"""Coverage planning: visibility, pixel density (DORI), candidates, optimisation, reports."""
