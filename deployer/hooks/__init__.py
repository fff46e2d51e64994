"""Hook adapters: lambda, http, command, and the judge of a lambda hook's answer."""
