"""Prefect flows that orchestrate mir's stages (no pipeline logic lives here)."""
