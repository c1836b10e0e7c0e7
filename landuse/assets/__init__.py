"""Map assets: landuse's own JavaScript and CSS for the Leaflet controls."""
