"""The dashboard's page, script, styles and the vendored uPlot chart library (MIT, see uPlot.iife.min.js)."""
