"""Live views of a session: the terminal table here, the web dashboard alongside."""
