"""Paper supports: typed forms and bulk files."""
