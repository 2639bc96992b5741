"""LayerTune's desktop application (PySide6); all computation lives in :mod:`core`."""
