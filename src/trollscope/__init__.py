"""trollscope: find troll farms (coordinated inauthentic behaviour) and show the evidence."""

__version__ = "0.1.0"
