"""Load benchmark of the dyndns2 API against anchors measured in the same run (see README.md)."""
