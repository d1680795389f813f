"""wsbench's built-in plugins, registered through the ``wsbench`` entry-point group."""
