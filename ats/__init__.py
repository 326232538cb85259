"""ATS: an applicant tracking workflow engine for public hiring drives."""

__version__ = "0.1.0"
