"""WTForms form classes: parse and check what people type; the services decide the rest."""
