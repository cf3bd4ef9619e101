"""Data: sources, preparation to uint8 arrays with a manifest, the split protocol and the device loader."""
