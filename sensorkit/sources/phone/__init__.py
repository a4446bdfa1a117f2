"""Phones as sources: phyphox, Sensor Logger and HyperIMU, live and from their exports."""
