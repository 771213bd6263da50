"""The Train page's panels: the settings form, this browser's trainings across reloads, the save panel."""
