"""DOMS command line, settings and the local process supervisor."""
