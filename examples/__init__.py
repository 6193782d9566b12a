"""Runnable examples: ``wakeful serve examples.app:registry`` registers all of them."""
