"""Tasks: sweeps, campaigns, surveys and notices routed down the unit tree."""
