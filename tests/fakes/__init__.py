"""Local fakes of vendor APIs (no server of the vendor can be installed here)."""
