// Placeholder so the proactor target has a source until its first real file lands; delete then.
