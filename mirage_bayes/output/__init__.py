"""Writing results: the staged, all-or-nothing result folder and its loader, the ``fit`` report
(one for each kind of data), figures and number formatting."""
