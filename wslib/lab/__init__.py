"""The series' instruments (capture, dissection, drawings, proxy, recordings, conformance)."""
