"""Modal dialogs: confirmation, release picker, deploy and lock forms, keys."""
