//! Plots as hand-written SVG: line charts of training curves and labelled image grids.
