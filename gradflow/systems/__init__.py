"""The systems gradflow solves, one subpackage each (see :mod:`gradflow.system` for the contract
and how to add one). Nothing here is imported until a system is asked for by name."""
