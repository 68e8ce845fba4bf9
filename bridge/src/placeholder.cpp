// Placeholder so the bridge target has a source until its first real file lands; delete then.
