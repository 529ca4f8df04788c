"""The Lista Nominal import: reading roll files, loading their rows and running the import as a job."""
