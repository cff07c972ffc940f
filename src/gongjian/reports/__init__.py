"""Documents made from the records: briefings (通报) as .docx in the layout of official
documents (GB/T 9704-2012), and their PDF.

A briefing is computed first, as a plain ``BriefingData`` (``briefings.py``), and
rendered second (``docx_layout.py``, ``charts.py``, ``pdf.py``), so the figures it
prints can be kept with it.
"""
