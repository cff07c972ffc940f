"""Campaign management: projects, batches, commitments, scoring, cadre dispatch."""
