"""Routes per audience: public, citizen, field (auxiliaries), aspirant, review (mesa de control), admin."""
