"""One package per published method that needs code of its own: `trelm/`, `veco2/`, `xlmp/`.

A method's package is a column through the house: each file sits on the floor of what it is
(a model piece beside model/, an objective beside objectives/, a start-up beside training/)
and imports only from the floors below that one. The objective registry
(objectives/registry.py) finds the objectives of every package here. The methods that are
configs and model options only (XLM meta-pretraining, TLM, Emerging cross-lingual structure)
have no package: docs/design.md says where they live.
"""
