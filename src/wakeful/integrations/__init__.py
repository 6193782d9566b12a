"""Agents written with other frameworks, run durably on Wakeful (each behind an extra)."""
