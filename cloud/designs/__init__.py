"""The design studio: a conversation that fills a parametric spec, a watertight model, a print."""
