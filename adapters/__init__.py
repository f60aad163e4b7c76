"""Framework adapters: one sub-package per framework, behind ``adapters.base.Adapter``."""
