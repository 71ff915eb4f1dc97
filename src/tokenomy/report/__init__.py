"""Figures and HTML reports (matplotlib, jinja2)."""
