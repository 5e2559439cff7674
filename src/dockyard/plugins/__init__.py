"""Managed plugins (v2): records, the plugin processes, the plugin protocol, volume plugins."""
