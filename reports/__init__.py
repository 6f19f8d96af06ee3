"""Conformance report, Allure environment/categories, HTML summary, failure diagnostics."""
