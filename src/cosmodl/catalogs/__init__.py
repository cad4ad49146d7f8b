"""Galaxy and void catalogues: mock generation, readers/writers, validation, download."""
