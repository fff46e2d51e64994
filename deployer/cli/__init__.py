"""The command line: commands, options, live display, prompt, status views, iam-policy."""
