"""Features: what both traces and signals compute from raw data.

Near-duplicate text (normalisation, shingles, MinHash/LSH), profile parsing (handle
shapes, location keys, bio clusters), perceptual hashes of media and avatars, and the
GAN-framing heuristic. Traces turn these into keys; signals into per-account values.
Neither imports the other: both import this package.
"""
