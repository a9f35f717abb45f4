"""Aggregation: measured runs and the paper's numbers side by side.

runs.py    reads our run directories (metrics.csv, provenance.json): best rows, accuracies, parameter counts
paper.py   reads paper/: the printed tables, the values quoted in the text, captions, claims, authors' curves
tables.py  Tables 1-7 as tidy CSV (ours, the paper's, the difference)
figures.py Figures 1-7 (accuracy and loss against iterations, authors' curves drawn faintly beneath)
claims.py  every claim of paper/claims.yaml -> reproduced / not reproduced / not run, with the numbers
ood.py     the out-of-domain evaluation of section 5.1 (a best checkpoint on operands 0..19)
report.py  one self-contained HTML page with all of the above
"""
