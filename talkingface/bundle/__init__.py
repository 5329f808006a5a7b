"""The offline bundle: images, weights and their checksums in one folder, carried to a machine with no network."""
