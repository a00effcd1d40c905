"""The embedded local stack: moto in server mode, simulators and a local API front, for laptops without Docker."""
