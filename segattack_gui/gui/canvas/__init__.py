"""The painting canvas: image, target and region layers, tools, zoom, the label palette."""
