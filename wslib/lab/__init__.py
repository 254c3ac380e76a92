"""The series' instruments (capture, dissection, drawings, proxy, recordings, conformance).

Built on the protocol core and on :mod:`wslib.sync`; nothing below ``wslib.lab`` is imported by
the protocol library itself. Import each module by name (``from wslib.lab.capture import
capture``): they load scapy or matplotlib, which ``import wslib`` does not.
"""
