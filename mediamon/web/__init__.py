"""`mediamon web`: the live page (app.py), its filters, reads, charts and defences."""
