"""SLEAP through sleap-nn (SLEAP's PyTorch backend): see ``adapters.sleap.adapter``."""
