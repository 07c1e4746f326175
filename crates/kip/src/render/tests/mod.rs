//! Golden and rule tests of the rendered objects.
