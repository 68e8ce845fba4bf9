// Placeholder so the reactor target has a source until its first real file lands; delete then.
