"""The 3D Pot slicer: mesh in, G-code out."""
