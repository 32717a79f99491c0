"""``igtools conformance``: the contract checks of generated server packages run against
any server (``igtools/runtime/conformance.py`` holds the checks, shared with the
generated contract tests; ``contract.py`` derives their cases from the IG; ``runner.py``
loads the examples and runs them; ``report.py`` writes the table, JUnit XML and HTML)."""
