"""`duckbert review`: the fraud analysts' queue of flagged sessions, as a local web page.

Reads come from a private snapshot of the warehouse (snapshot.py), verdicts go through the
side queue (duckbert/label_queue.py) into raw_labels, so the page never blocks a build or a
training run and never loses a label (docs/BI.md).
"""
